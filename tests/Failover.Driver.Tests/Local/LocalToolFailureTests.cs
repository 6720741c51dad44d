using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Local;

/// <summary>
/// The local provider's own tools fail in the words of every tool failure (<see cref="ToolFailure"/>): the tool, what it was
/// doing, how it ended, its error line, what to do. PowerDNS on 127.0.10.50 (this class's own address).
/// </summary>
public sealed class LocalToolFailureTests
{
    [Fact]
    public async Task An_apt_get_that_fails_is_named_with_its_error_line_and_the_way_on()
    {
        // A simulated install: apt reads its package lists and refuses, without the dpkg lock or the network. The lock-wait
        // option the drill passes comes before the subcommand, which is still what the failure names.
        var e = await Assert.ThrowsAsync<ToolFailureException>(() =>
            DebianPackages.Run("apt-get", "-o DPkg::Lock::Timeout=600 install -s failover-no-such-package", _ => { }, CancellationToken.None));

        Assert.Equal("apt-get install failed installing the drill's Debian packages (exit 100): E: Unable to locate package failover-no-such-package. " +
                     "Run `apt-get -o DPkg::Lock::Timeout=600 install -s failover-no-such-package` as root to see all it says, fix that (apt sources, disk space, a held lock), then run again",
            e.Message);
    }

    [Fact]
    public async Task A_zone_the_powerdns_api_refuses_is_named_with_its_answer_and_the_way_on()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("pdns")).ToList(), _ => { }, CancellationToken.None);
        var dir = Directory.CreateTempSubdirectory("failover-pdns-fail-").FullName;
        await using var server = new PowerDnsServer(dir, "127.0.10.50", Processes.FreePort(), Processes.FreePort(), "key-" + Guid.NewGuid().ToString("N"));
        try
        {
            await server.StartAsync(CancellationToken.None);
            await server.CreateZoneAsync("fail.test", [("app", "A", ["127.0.10.51"])], 60, CancellationToken.None);

            var e = await Assert.ThrowsAsync<ToolFailureException>(() => server.CreateZoneAsync("fail.test", [], 60, CancellationToken.None));

            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(e.Message, @"^the PowerDNS API at http://127\.0\.10\.50:\d+/ failed creating zone fail\.test\. \(HTTP 409\): Conflict\. " +
                           @"Fix what the API says \(a zone that exists already is kept: delete it with pdnsutil delete-zone, or use it\), then run again$"), e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
