using System.Text.RegularExpressions;
using Failover.Core.Backup;
using Failover.Driver.Composition;
using Failover.Driver.Backup;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>The local topology on 127.0.17.21-24, this class's own addresses: it needs no shared lock.</summary>
public sealed class PartialFailoverTopology() : LocalTopology(20, "127.0.17.");

/// <summary>
/// On the real binary, servers and vault: a tenant whose backups are missing does not hold the others back (the run
/// goes on without it when told, DNS moves, the others serve), `failover restore --tenant` brings it back into the
/// serving site once its backup is found, and each run's evidence is copied into the vault, sealed.
/// </summary>
public class PartialFailoverEndToEndTests(PartialFailoverTopology site) : IClassFixture<PartialFailoverTopology>
{
    private ResticRepository Vault() =>
        new(RunPortsFactory.LocalVault(site.Topology, site.Project), new SecretRegistry(), Log.Logger);

    private static string RunId(string output) => Regex.Match(output, @"Run (\d{8}-\d{6}-[0-9a-f]{6})").Groups[1].Value;

    [Fact]
    public async Task A_tenant_without_backups_is_left_out_then_restored_into_the_serving_site_and_each_run_s_evidence_is_in_the_vault()
    {
        var vaultDir = RunPortsFactory.LocalVault(site.Topology, site.Project).Repository;
        var hidden = Directory.CreateTempSubdirectory("failover-hidden-").FullName;
        // The tenant's snapshots "lost": their index entries moved away (the data stays, as in a vault copy found later).
        foreach (var s in await Vault().SnapshotsAsync([BackupTags.Of(BackupTags.Tenant, "contoso")], CancellationToken.None))
            File.Move(Path.Combine(vaultDir, "snapshots", s.Id), Path.Combine(hidden, s.Id));

        var failed = site.Failover(null, "run", "--to", "local-standby", "--yes");
        Assert.True(failed.ExitCode == 4, failed.Output);
        Assert.Contains("`failover resume --without-tenant contoso`", failed.Output);
        Assert.Equal([site.ProdAddress], await site.DnsAnswerAsync()); // nothing moved

        var resumed = site.Failover(null, "resume", "--without-tenant", "contoso", "--reason", "contoso's backups are missing from the vault");
        Assert.True(resumed.ExitCode == 0, resumed.Output);
        Assert.Equal([site.StandbyAddress], await site.DnsAnswerAsync());
        var standby = site.Sites.Cluster(site.Topology.Find("local-standby")!);
        foreach (var t in site.Topology.Tenants.Where(t => t.Name != "contoso"))
            Assert.Equal(site.Seeded[t.Name], await TenantSeed.CountRowsAsync(standby.Address, standby.Port, t.Name, CancellationToken.None));
        var failover = RunId(failed.Output);
        var md = File.ReadAllText(Path.Combine(site.Store.RunDirectory(failover), "report.md"));
        Assert.Contains("**Left out: contoso**", md);
        // After the cutover the new serving site's agent ran: the report says from when new backups exist, and its heartbeat is in the vault.
        Assert.Matches(@"new backups from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: run \S+, \d+ of \d+ tenants into local-vault", md);
        Assert.Contains("local-standby's first backup failed for contoso", md); // not restored on the standby: named, not hidden
        var heartbeat = await new BackupCatalog(Vault(), TimeProvider.System, Log.Logger).HeartbeatAsync(CancellationToken.None);
        Assert.Equal("local-standby", heartbeat?.Site);

        // The evidence in the vault: the sealed report and the journal, tagged with the run.
        var copies = await Vault().SnapshotsAsync([ReportArchive.RunTag(failover)], CancellationToken.None);
        Assert.NotEmpty(copies);
        Assert.All(copies, c => Assert.DoesNotContain(BackupTags.Tool, c.Tags)); // never taken for a tenant's backup
        var filed = new MemoryStream();
        await Vault().DumpAsync(copies.OrderBy(c => c.Time).Last().Id, "/report.md", (s, ct) => s.CopyToAsync(filed, ct), CancellationToken.None);
        Assert.True(ReportSeal.Verify(filed.ToArray()).Matches);
        Assert.Equal(File.ReadAllBytes(Path.Combine(site.Store.RunDirectory(failover), "report.md")), filed.ToArray());
        Assert.Contains("as a restic snapshot tagged failover-report and report=" + failover, md);

        foreach (var f in Directory.GetFiles(hidden)) File.Move(f, Path.Combine(vaultDir, "snapshots", Path.GetFileName(f)));
        var restored = site.Failover(null, "restore", "--tenant", "contoso", "--yes");
        Assert.True(restored.ExitCode == 0, restored.Output);
        Assert.Contains($"Serving site: local-standby, where failover {failover} moved service", restored.Output);
        Assert.Equal(site.Seeded["contoso"], await TenantSeed.CountRowsAsync(standby.Address, standby.Port, "contoso", CancellationToken.None));
        var restoreRun = RunId(restored.Output);
        var restoreReport = File.ReadAllText(Path.Combine(site.Store.RunDirectory(restoreRun), "report.md"));
        Assert.Contains("**Restored.** contoso restored into local-standby", restoreReport);
        Assert.DoesNotContain("| cutover |", restoreReport);
        Assert.Equal([site.StandbyAddress], await site.DnsAnswerAsync());
    }
}
