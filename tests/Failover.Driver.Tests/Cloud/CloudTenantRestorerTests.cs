using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Cloud;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Health;

namespace Failover.Driver.Tests.Cloud;

/// <summary>A tenant the cloud server could not restore: the failure names the command that gets past it.</summary>
public class CloudTenantRestorerTests
{
    private static readonly TenantSnapshot Snapshot = new("contoso", "9f8e7d6c0a1b", new DateTimeOffset(2026, 11, 21, 2, 0, 0, TimeSpan.Zero), 1024);

    private static async Task<string> FailureOf(string? startAgain)
    {
        // The server's health document lists the tenant under "failed", as the rendered restore writes it.
        using var server = new TinyWebServer(503, "{\"status\":\"degraded\",\"snapshots\":{},\"failed\":[\"contoso\"]}");
        var restorer = new CloudTenantRestorer(new HttpClient(), TimeProvider.System, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), startAgain);
        var site = new SiteAddress(["127.0.0.1"], server.Url.ToString(), new JsonObject());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => restorer.RestoreAsync(new Tenant("contoso", 1, 1), Snapshot, site, null!, CancellationToken.None));
        return e.Message;
    }

    [Fact]
    public async Task A_failover_names_the_run_from_the_previous_set_since_resume_would_ask_for_the_same_one()
    {
        var message = await FailureOf("failover run --to standby-hel1");
        Assert.Contains("restore of contoso from snapshot 9f8e7d6c0a1b failed on the server", message);
        Assert.Contains("journalctl -t failover-bootstrap", message);
        Assert.Contains("`failover abort`", message);
        Assert.Contains("`failover run --to standby-hel1 --restore-point 2026-11-21T01:59:59Z`", message);
    }

    [Fact]
    public async Task A_rehearsal_says_it_found_a_set_that_does_not_restore()
    {
        var message = await FailureOf(null);
        Assert.Contains("found a backup set that does not restore", message);
        Assert.DoesNotContain("--restore-point", message);
    }
}
