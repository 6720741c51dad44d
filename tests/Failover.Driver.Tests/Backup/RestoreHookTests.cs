using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog.Core;

namespace Failover.Driver.Tests.Backup;

public class RestoreHookTests
{
    private static TenantRestoreJob Job(RestoreOptions options, string dbPassword)
    {
        var point = StubRestorePoint.For("acme");
        // Nothing listens on port 1: a restore that went past a failed pre-hook would fail differently.
        var target = new TenantSite(new Tenant("acme", 1, 1), new PostgresDatabase("127.0.0.1", 1, "acme", "app", dbPassword), "/nonexistent/acme");
        return new TenantRestoreJob(target, point, options);
    }

    [Fact]
    public async Task A_failing_pre_hook_stops_the_tenant_before_any_data_moves_and_its_output_is_kept_without_secrets()
    {
        var secrets = new SecretRegistry();
        var restic = new ResticRepository(new ResticSettings("/nonexistent/repo", "restic-password-never-used"), secrets, Logger.None);
        var restore = new TenantRestore(restic, new PostgresTools(), new RestoreHooks(secrets), secrets, Logger.None);
        var options = RestoreOptions.Default with { PreHooks = ["echo stopping app for $FAILOVER_TENANT", "echo pw=$PGPASSWORD; exit 3", "echo never runs"] };

        var result = await restore.RestoreAsync(Job(options, "db-password-123"), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Equal("pre-restore hook failed: echo pw=$PGPASSWORD; exit 3", result.Error);
        Assert.Equal(["stopping app for acme", "pw=[redacted]"], result.Hooks.Select(h => h.Output));
        Assert.Equal([0, 3], result.Hooks.Select(h => h.ExitCode));
    }

    [Theory]
    [InlineData(true, "rehearsal=1")]
    [InlineData(false, "rehearsal=0")]
    public async Task Hooks_know_whether_they_run_on_a_rehearsal_copy(bool rehearsal, string seen)
    {
        var hooks = new RestoreHooks(new SecretRegistry());
        var target = new TenantSite(new Tenant("acme", 1, 1), new PostgresDatabase("127.0.0.1", 1, "acme", "app", null), "/nonexistent/acme");

        var outcomes = await hooks.RunAsync("post", ["echo rehearsal=$FAILOVER_REHEARSAL"], target, TimeSpan.FromSeconds(30), CancellationToken.None, rehearsal);

        Assert.Equal(seen, Assert.Single(outcomes).Output);
    }
}
