using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>failover:policy.rehearsalCadence: optional, a week by default, refused with a fix when it is not a duration.</summary>
public class RehearsalCadenceTests
{
    [Fact]
    public void Without_the_key_a_rehearsal_is_due_every_week()
    {
        using var s = Scenario.Cloud();
        Assert.Equal(TimeSpan.FromDays(7), s.Load().Policy.RehearsalCadence);
    }

    [Fact]
    public void The_cadence_is_read_from_the_policy()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "jurisdictions: [EEA]", "jurisdictions: [EEA]\n    rehearsalCadence: 14d");
        Assert.Equal(TimeSpan.FromDays(14), s.Load().Policy.RehearsalCadence);
    }

    [Fact]
    public void A_cadence_that_is_not_a_duration_names_the_key_and_the_fix()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "jurisdictions: [EEA]", "jurisdictions: [EEA]\n    rehearsalCadence: weekly");
        var p = s.Problem();
        Assert.Contains("'weekly' is not a duration", p.Message);
        Assert.Contains("rehearsalCadence", p.ToString());
    }
}
