using Failover.Core.Planning;

namespace Failover.Core.Tests;

public sealed class RuntimeOptionsTests
{
    [Fact]
    public void The_defaults_are_the_documented_limits()
    {
        var o = RuntimeOptions.Default;
        Assert.Equal(new Wait(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1)), o.LocalGate);
        Assert.Equal(new Wait(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(5)), o.CloudGate);
        Assert.Equal(TimeSpan.FromMinutes(30), o.MigrateHook);
    }

    [Fact]
    public void A_limit_of_zero_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeOptions(fence: TimeSpan.Zero));
        Assert.Contains("runtime option fence", e.Message);
    }

    [Fact]
    public void A_poll_longer_than_its_timeout_is_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeOptions(cloudGate: new Wait(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30))));
        Assert.Contains("runtime option cloudGate polls every", e.Message);
    }
}
