using System.Diagnostics;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The backup agent Core renders, run for real on this machine (the script a cloud data server's timer runs) against a
/// real PostgreSQL and two directory restic vaults; its sets are restored and verified by the run's own restore.
/// </summary>
public class BackupAgentTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    private const string ShopSchema = """
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, joined timestamptz, tags jsonb);
        CREATE TABLE events (id bigserial PRIMARY KEY, payload json, at timestamptz DEFAULT '2024-05-01');
        CREATE SCHEMA audit;
        CREATE TABLE audit.logins (who int, at timestamptz);
        INSERT INTO customers SELECT g, 'customer ' || g || ' é', '2024-01-01'::timestamptz + g * interval '1 day', jsonb_build_object('n', g) FROM generate_series(1, 300) g;
        INSERT INTO events (payload) SELECT json_build_object('g', g) FROM generate_series(1, 120) g;
        INSERT INTO audit.logins SELECT g % 7, '2024-02-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g;
        """;

    /// <summary>A site of tenants with databases on the test cluster and files in a scratch folder, and two vaults.</summary>
    private sealed class Site : IAsyncDisposable
    {
        public required TestVault First { get; init; }
        public required TestVault Second { get; init; }
        public required BackupPlan Plan { get; init; }
        public required string Directory { get; init; }
        public required IReadOnlyDictionary<string, string?> Environment { get; init; }

        public Task<AgentRunResult> RunAsync() =>
            new BackupAgentRun(First.Secrets, First.Logger).RunAsync(Plan, Path.Combine(Directory, "agent"), Environment, null, CancellationToken.None);

        public async ValueTask DisposeAsync()
        {
            await First.DisposeAsync();
            await Second.DisposeAsync();
        }
    }

    private async Task<Site> SiteAsync(string prefix, params string[] tenantsWithData)
    {
        var first = await TestVault.CreateAsync(cluster);
        var second = await TestVault.CreateAsync(cluster);
        var dir = first.Scratch("site");
        var tenants = new List<string>();
        foreach (var t in tenantsWithData)
        {
            var name = $"{prefix}_{t}";
            tenants.Add(name);
            if (t.StartsWith("missing", StringComparison.Ordinal)) { System.IO.Directory.CreateDirectory(Path.Combine(dir, "tenants", name, "files")); continue; }
            await cluster.CreateAsync(name, ShopSchema);
            var files = Path.Combine(dir, "tenants", name, "files");
            System.IO.Directory.CreateDirectory(Path.Combine(files, "uploads", "2024"));
            await File.WriteAllTextAsync(Path.Combine(files, "uploads", "2024", "contract été.txt"), $"contract of {name}");
            await File.WriteAllBytesAsync(Path.Combine(files, "uploads", "logo.bin"), Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray());
            await File.WriteAllTextAsync(Path.Combine(files, "empty.txt"), "");
        }
        var vaults = new List<BackupTarget>();
        foreach (var (vault, name) in new[] { (first, "vault-a"), (second, "vault-b") })
        {
            var credentials = Path.Combine(dir, "vaults", name + ".env");
            await BackupAgentRun.WriteCredentialsAsync(credentials, vault.Settings, CancellationToken.None);
            vault.Secrets.Add(vault.Settings.Password);
            first.Secrets.Add(vault.Settings.Password);
            vaults.Add(new BackupTarget(name, credentials));
        }
        var plan = new BackupPlan("agent-site", tenants, vaults, TimeSpan.FromMinutes(30))
        {
            FilesPattern = Path.Combine(dir, "tenants", "{tenant}", "files"),
            StateDirectory = Path.Combine(dir, "state"),
            LockFile = Path.Combine(dir, "backup.lock"),
            PostgresUser = null,
        };
        var db = cluster.Database("postgres");
        return new Site
        {
            First = first, Second = second, Plan = plan, Directory = dir,
            Environment = new Dictionary<string, string?> { ["PGHOST"] = db.Host, ["PGPORT"] = db.Port.ToString(), ["PGUSER"] = db.User, ["PGPASSWORD"] = db.Password },
        };
    }

    private async Task<TenantRestoreResult> RestoreAsync(TestVault vault, string tenant, string runId, string target)
    {
        var catalog = vault.Catalog();
        var set = (await catalog.SetsAsync(tenant, CancellationToken.None)).Single(s => s.RunId == runId);
        Assert.True(set.IsComplete, $"{tenant}'s set of run {runId} is incomplete");
        Assert.Null(await catalog.ProblemAsync(set, CancellationToken.None));
        var point = await catalog.RestorePointAsync(set, CancellationToken.None);
        var site = new TenantSite(new Tenant(tenant, 1, 1), cluster.Database(target), vault.Scratch(target + "-files"));
        return await vault.Restore().RestoreAsync(new TenantRestoreJob(site, point, RestoreOptions.Default), CancellationToken.None);
    }

    [Fact]
    public async Task Every_tenant_goes_into_both_vaults_and_restores_and_verifies_from_each_with_a_heartbeat_per_vault()
    {
        await using var site = await SiteAsync("both", "north", "south");
        var run = await site.RunAsync();

        Assert.True(run.ExitCode == 0, run.Log);
        Assert.Equal(["both_north", "both_south"], run.Tenants.Select(t => t.Tenant));
        Assert.All(run.Tenants, t => Assert.True(t.Succeeded, t.Error));
        foreach (var (vault, n) in new[] { (site.First, "a"), (site.Second, "b") })
            foreach (var tenant in site.Plan.Tenants)
            {
                // Table checksums (json columns too, by their text) and every file are compared with the agent's manifest.
                var restored = await RestoreAsync(vault, tenant, run.RunId, $"{tenant}_from_{n}");
                Assert.True(restored.Succeeded, $"{restored.Error} {string.Join(", ", restored.Coherence?.Differences ?? [])}");
                Assert.Equal(await PostgresCluster.RowsAsync(cluster.Database(tenant), "events"), await PostgresCluster.RowsAsync(cluster.Database($"{tenant}_from_{n}"), "events"));
            }
        var heartbeat = await site.Second.Catalog().HeartbeatAsync(CancellationToken.None);
        Assert.NotNull(heartbeat);
        Assert.Equal(("agent-site", "vault-b", run.RunId, 2, 2), (heartbeat.Site, heartbeat.Vault, heartbeat.RunId, heartbeat.Tenants, heartbeat.BackedUp));
        Assert.Empty(heartbeat.Failures);
        Assert.True(heartbeat.Bytes > 2 * 70_000);
        Assert.True(heartbeat.Finished >= heartbeat.Started);
    }

    [Fact]
    public async Task The_agent_s_manifest_is_the_one_the_csharp_backup_writes_for_the_same_tenant()
    {
        await using var site = await SiteAsync("same", "shop");
        var run = await site.RunAsync();
        Assert.True(run.ExitCode == 0, run.Log);
        var tenant = site.Plan.Tenants[0];
        var csharp = await site.First.Backup().BackupTenantAsync(
            new TenantSite(new Tenant(tenant, 1, 1), cluster.Database(tenant), site.Plan.FilesDirectory(tenant)), "csharp-run", CancellationToken.None);
        Assert.True(csharp.Succeeded, csharp.Error);
        var catalog = site.First.Catalog();
        var agent = await catalog.ReadManifestAsync((await catalog.SetsAsync(tenant, CancellationToken.None)).Single(s => s.RunId == run.RunId), CancellationToken.None);

        Assert.Equal(csharp.Manifest!.Database.Tables, agent.Database.Tables);
        Assert.Contains(agent.Database.Tables, t => t.Checksum.StartsWith("t:", StringComparison.Ordinal)); // the json table, by its text
        Assert.Contains(agent.Database.Tables, t => t.Checksum.StartsWith("r:", StringComparison.Ordinal));
        Assert.Equal(csharp.Manifest.Files.Entries, agent.Files.Entries);
        Assert.Equal((csharp.Manifest.Files.Count, csharp.Manifest.Files.Bytes, csharp.Manifest.Files.TreeChecksum), (agent.Files.Count, agent.Files.Bytes, agent.Files.TreeChecksum));
        Assert.Equal(tenant, agent.Database.Name);
        Assert.Equal(64, agent.Database.DumpSha256.Length);
    }

    [Fact]
    public async Task A_vault_that_cannot_be_opened_is_named_and_the_other_vault_still_gets_every_set()
    {
        await using var site = await SiteAsync("onefails", "north");
        await BackupAgentRun.WriteCredentialsAsync(site.Plan.Vaults[1].CredentialsFile, site.Second.Settings with { Password = "not-the-password" }, CancellationToken.None);
        var run = await site.RunAsync();

        Assert.Equal(BackupPlan.FailedExitCode, run.ExitCode);
        var restored = await RestoreAsync(site.First, "onefails_north", run.RunId, "onefails_north_restored");
        Assert.True(restored.Succeeded, restored.Error);
        Assert.Empty(await site.Second.Catalog().SetsAsync("onefails_north", CancellationToken.None));
        var heartbeat = await site.First.Catalog().HeartbeatAsync(CancellationToken.None);
        Assert.NotNull(heartbeat);
        Assert.Equal(1, heartbeat.BackedUp);
        var failure = Assert.Single(heartbeat.Failures);
        Assert.Equal("vault-b", failure.Vault);
        Assert.Null(failure.Tenant);
        Assert.Contains("cannot open the vault", failure.Reason);
        Assert.Contains("vault-b", run.Log);
    }

    [Fact]
    public async Task A_tenant_whose_database_is_missing_is_named_in_the_heartbeat_and_the_others_are_backed_up()
    {
        await using var site = await SiteAsync("gap", "north", "missing", "south");
        var run = await site.RunAsync();

        Assert.Equal(BackupPlan.FailedExitCode, run.ExitCode);
        Assert.Equal([true, false, true], run.Tenants.Select(t => t.Succeeded));
        Assert.Contains("gap_missing", run.Tenants[1].Error ?? "", StringComparison.Ordinal);
        var catalog = site.Second.Catalog();
        // Nothing a restore could pick: no set at all for the missing tenant, complete sets for the others.
        Assert.DoesNotContain(await catalog.SetsAsync("gap_missing", CancellationToken.None), s => s.IsComplete);
        Assert.True((await RestoreAsync(site.Second, "gap_south", run.RunId, "gap_south_restored")).Succeeded);
        var heartbeat = await catalog.HeartbeatAsync(CancellationToken.None);
        Assert.NotNull(heartbeat);
        Assert.Equal((3, 2), (heartbeat.Tenants, heartbeat.BackedUp));
        var failure = Assert.Single(heartbeat.Failures);
        Assert.Equal(("gap_missing", (string?)null), (failure.Tenant, failure.Vault));
        Assert.Contains("does not exist", failure.Reason);
    }

    [Fact]
    public async Task A_second_run_while_one_holds_the_lock_is_refused_and_says_so()
    {
        await using var site = await SiteAsync("overlap", "north");
        // A run in progress holds the agent's lock (flock on the same file, as the first run's script does).
        using var holder = Process.Start(new ProcessStartInfo("flock", [site.Plan.LockFile, "sleep", "60"]))!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Free(site.Plan.LockFile) && DateTime.UtcNow < deadline) await Task.Delay(50);
            var run = await site.RunAsync();

            Assert.Equal(BackupPlan.RefusedExitCode, run.ExitCode);
            Assert.Contains("this run is refused", run.Log);
            Assert.Empty(run.Tenants);
            Assert.Empty(await site.First.Catalog().SetsAsync("overlap_north", CancellationToken.None));
        }
        finally { holder.Kill(entireProcessTree: true); }
        await holder.WaitForExitAsync();
        Assert.Equal(0, (await site.RunAsync()).ExitCode); // once the lock is free the next run backs up
    }

    private static bool Free(string lockFile)
    {
        using var probe = Process.Start(new ProcessStartInfo("flock", ["-n", lockFile, "true"]))!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }
}
