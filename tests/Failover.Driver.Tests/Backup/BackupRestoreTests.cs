using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>The round trip: back up tenants, restore them elsewhere, nothing lost.</summary>
public class BackupRestoreTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    private const string AcmeSchema = """
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(12,2), joined timestamptz, tags jsonb);
        CREATE TABLE invoices (id bigserial PRIMARY KEY, customer int REFERENCES customers(id), pdf bytea, paid boolean);
        CREATE SCHEMA audit;
        CREATE TABLE audit.events (at timestamptz DEFAULT now(), what text);
        INSERT INTO customers SELECT g, 'customer ' || g || ' é', g * 10.5, '2024-01-01'::timestamptz + g * interval '1 day', jsonb_build_object('n', g) FROM generate_series(1, 300) g;
        INSERT INTO invoices (customer, pdf, paid) SELECT 1 + g % 300, decode(md5(g::text), 'hex'), g % 2 = 0 FROM generate_series(1, 1000) g;
        INSERT INTO audit.events (what) SELECT 'login ' || g FROM generate_series(1, 50) g;
        """;

    private static void WriteFiles(string dir, string tenant)
    {
        Directory.CreateDirectory(Path.Combine(dir, "uploads", "2024"));
        File.WriteAllText(Path.Combine(dir, "uploads", "2024", "contract été.txt"), $"contract of {tenant}");
        File.WriteAllBytes(Path.Combine(dir, "uploads", "logo.bin"), Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7)).ToArray());
        File.WriteAllText(Path.Combine(dir, "empty.txt"), "");
    }

    [Fact]
    public async Task Tenants_backed_up_and_restored_elsewhere_have_every_row_and_file()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var acmeDb = await cluster.CreateAsync("acme_prod", AcmeSchema);
        var globexDb = await cluster.CreateAsync("globex_prod", "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, repeat('x', g) FROM generate_series(1, 200) g;");
        var acme = new TenantSite(new Tenant("acme", 1, 2), acmeDb, vault.Scratch("acme-files"));
        var globex = new TenantSite(new Tenant("globex", 2, 1), globexDb, vault.Scratch("globex-files"));
        WriteFiles(acme.FilesDirectory, "acme");
        WriteFiles(globex.FilesDirectory, "globex");

        var backups = await vault.Backup().BackupAsync([acme, globex], null, CancellationToken.None);
        Assert.All(backups, b => Assert.True(b.Succeeded, b.Error));
        Assert.Single(backups.Select(b => b.RunId).Distinct());

        var catalog = vault.Catalog();
        var options = RestoreOptions.Default with { PostHooks = ["echo migrated $FAILOVER_TENANT in $PGDATABASE"] };
        var jobs = new List<TenantRestoreJob>();
        foreach (var (source, suffix) in new[] { (acme, "acme"), (globex, "globex") })
        {
            var point = await catalog.RestorePointAsync((await catalog.SetsAsync(source.Tenant.Name, CancellationToken.None)).First(s => s.IsComplete), CancellationToken.None);
            var target = new TenantSite(source.Tenant, cluster.Database(suffix + "_restored"), vault.Scratch(suffix + "-restored"));
            // The globex restore uses parallel pg_restore from a scratch copy; acme streams from restic.
            jobs.Add(new TenantRestoreJob(target, point, suffix == "globex" ? options with { DatabaseJobs = 2, ScratchDirectory = vault.Scratch("tmp") } : options));
        }
        // In restore order, two at a time, as the failover's restore step runs them.
        var restore = vault.Restore();
        var turns = await TenantQueue.RunAsync(jobs.Select(j => j.Target.Tenant), 2, vault.Clock,
            (tenant, ct) => restore.RestoreAsync(jobs.Single(j => j.Target.Tenant == tenant), ct), CancellationToken.None);

        Assert.All(turns, t => Assert.True(t.Result is { Succeeded: true },
            $"{t.Tenant.Name}: {t.Error?.Message}{t.Result?.Error} {string.Join(", ", t.Result?.Coherence?.Differences ?? [])}"));
        Assert.Equal(["acme", "globex"], turns.Select(t => t.Tenant.Name));
        Assert.Equal("migrated acme in acme_restored", turns[0].Result!.Hooks.Single().Output);

        // Checked independently of the manifest: every row and every file byte is back.
        foreach (var table in new[] { "customers", "invoices", "audit.events" })
            Assert.Equal(await PostgresCluster.RowsAsync(acmeDb, table), await PostgresCluster.RowsAsync(cluster.Database("acme_restored"), table));
        Assert.Equal(await PostgresCluster.RowsAsync(globexDb, "notes"), await PostgresCluster.RowsAsync(cluster.Database("globex_restored"), "notes"));
        foreach (var (source, target) in new[] { (acme.FilesDirectory, vault.Scratch("acme-restored")), (globex.FilesDirectory, vault.Scratch("globex-restored")) })
        {
            var files = Directory.GetFiles(source, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(source, f)).Order().ToList();
            Assert.Equal(files, Directory.GetFiles(target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(target, f)).Order());
            foreach (var f in files) Assert.Equal(File.ReadAllBytes(Path.Combine(source, f)), File.ReadAllBytes(Path.Combine(target, f)));
        }

        var log = vault.LogText.ToString();
        Assert.Contains("Restored acme from run", log);
        Assert.DoesNotContain(vault.Settings.Password, log);
        Assert.DoesNotContain(cluster.Password, log);
    }

    [Fact]
    public async Task A_restore_missing_rows_or_files_is_reported_as_incoherent_with_the_table_and_file_named()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var db = await cluster.CreateAsync("initech_prod", AcmeSchema);
        var site = new TenantSite(new Tenant("initech", 1, 1), db, vault.Scratch("initech-files"));
        WriteFiles(site.FilesDirectory, "initech");
        var backup = await vault.Backup().BackupTenantAsync(site, "run-1", CancellationToken.None);
        Assert.True(backup.Succeeded, backup.Error);

        // What a broken restore would leave behind: a row gone, a row changed, a file gone.
        await PostgresCluster.ExecuteAsync(db, "DELETE FROM invoices WHERE id = 17; UPDATE customers SET name = 'changed' WHERE id = 3;");
        File.Delete(Path.Combine(site.FilesDirectory, "empty.txt"));
        var coherence = Coherence.Compare(backup.Manifest!, await vault.Postgres.TablesAsync(db, CancellationToken.None), await FileTree.ScanAsync(site.FilesDirectory, CancellationToken.None));

        Assert.False(coherence.IsCoherent);
        Assert.Contains("table public.invoices has 999 rows, the backup had 1000", coherence.Differences);
        Assert.Contains("table public.customers has 300 rows as in the backup but different contents", coherence.Differences);
        Assert.Contains("file empty.txt is missing", coherence.Differences);
        Assert.Equal(3, coherence.Differences.Count);
    }

    [Fact]
    public async Task A_dump_that_fails_leaves_no_backup_to_restore_and_the_error_holds_no_password()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        await cluster.CreateAsync("wonka_prod", "CREATE TABLE t (id int)");
        var wrong = cluster.Database("wonka_prod") with { Password = "wrong-password-42" };
        var site = new TenantSite(new Tenant("wonka", 1, 1), wrong, vault.Scratch("wonka-files"));
        Directory.CreateDirectory(site.FilesDirectory);

        var result = await vault.Backup().BackupTenantAsync(site, "run-1", CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains("password authentication failed", result.Error);
        Assert.Empty(await vault.Repository.SnapshotsAsync([], CancellationToken.None));
        Assert.DoesNotContain("wrong-password-42", vault.LogText.ToString());
    }

    [Fact]
    public async Task A_tenant_whose_files_directory_is_missing_fails_its_backup_instead_of_storing_no_files()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var db = await cluster.CreateAsync("stark_prod", "CREATE TABLE t (id int)");
        var site = new TenantSite(new Tenant("stark", 1, 1), db, vault.Scratch("typo-in-the-path"));

        var result = await vault.Backup().BackupTenantAsync(site, "run-1", CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains("typo-in-the-path does not exist", result.Error);
        Assert.Empty(await vault.Repository.SnapshotsAsync([], CancellationToken.None));
    }

    [Fact]
    public async Task A_restore_that_fails_after_creating_its_database_leaves_no_half_restored_tenant_behind()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var name = "initech" + Guid.NewGuid().ToString("N")[..8]; // the cluster outlives a test run
        var site = await CatalogScenario.TenantAsync(cluster, vault, name);
        CatalogScenario.Damage(await CatalogScenario.BackUpNewDataAsync(vault, site, "run-1")); // the dump's pack: restore-database fails
        var point = await vault.Catalog().RestorePointAsync((await vault.Catalog().SetsAsync(name, CancellationToken.None)).Single(), CancellationToken.None);
        var target = new TenantSite(site.Tenant, cluster.Database(name + "_restored"), vault.Scratch("initech-restored"));

        var result = await vault.Restore().RestoreAsync(new TenantRestoreJob(target, point, RestoreOptions.Default), CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Verdicts, v => v.Step == "restore-database" && !v.Passed);
        Assert.Contains(result.Verdicts, v => v.Step == "create-database" && v.Passed);
        await using var admin = new Npgsql.NpgsqlConnection(cluster.ConnectionString);
        await admin.OpenAsync();
        await using var exists = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = $1", admin) { Parameters = { new() { Value = name + "_restored" } } };
        Assert.Equal(0L, (long)(await exists.ExecuteScalarAsync())!);
        Assert.False(Directory.Exists(target.FilesDirectory), "the files the failed restore brought are left");

        // A target that already holds data is refused, and kept as it was.
        var occupied = new TenantSite(site.Tenant, site.Database, vault.Scratch("initech-occupied"));
        var refused = await vault.Restore().RestoreAsync(new TenantRestoreJob(occupied, point, RestoreOptions.Default), CancellationToken.None);
        Assert.False(refused.Succeeded);
        Assert.NotEmpty(await PostgresCluster.RowsAsync(site.Database, "blobs"));
    }
}
