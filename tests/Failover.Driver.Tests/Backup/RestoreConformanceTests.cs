using System.Diagnostics;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// One tenant backed up twice into a real restic vault from a real PostgreSQL: a good run, and a run whose manifest
/// was rewritten afterwards so that one table's checksum no longer matches its rows (the count still does).
/// </summary>
public sealed class ConformanceTenant : IAsyncLifetime
{
    public PostgresCluster Cluster { get; } = new();
    public TestVault Vault { get; private set; } = null!;
    public Tenant Tenant { get; } = new("acme", 1, 1);
    public BackupSet Good { get; private set; } = null!;
    public BackupSet Tampered { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Vault = await TestVault.CreateAsync(Cluster);
        // json has no hash function: that table is checksummed by its rows' text, the other by column hashes.
        var source = await Cluster.CreateAsync("acme_prod", """
            CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, joined timestamptz);
            INSERT INTO customers SELECT g, 'customer ' || g, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 200) g;
            CREATE TABLE documents (id int PRIMARY KEY, body json);
            INSERT INTO documents SELECT g, json_build_object('g', g) FROM generate_series(1, 40) g;
            """);
        var files = Vault.Scratch("acme-files");
        Directory.CreateDirectory(Path.Combine(files, "uploads"));
        File.WriteAllText(Path.Combine(files, "uploads", "contract.txt"), "contract of acme");
        File.WriteAllBytes(Path.Combine(files, "logo.bin"), Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray());
        var site = new TenantSite(Tenant, source, files);

        var good = await Vault.Backup().BackupTenantAsync(site, "20261201T100000Z-good00", CancellationToken.None);
        Assert.True(good.Succeeded, good.Error);
        var tampered = await Vault.Backup().BackupTenantAsync(site, "20261201T110000Z-bad000", CancellationToken.None);
        Assert.True(tampered.Succeeded, tampered.Error);
        // The run's manifest written again, newer, with customers' checksum changed: what a restore reads is its latest.
        var manifest = tampered.Manifest!;
        var forged = manifest with
        {
            Database = manifest.Database with
            {
                Tables = manifest.Database.Tables.Select(t => t.Name == "customers" ? t with { Checksum = t.Checksum + "0" } : t).ToList(),
            },
        };
        await Vault.Repository.BackupStreamAsync(ManifestJson.FileName, BackupTags.For(Tenant.Name, tampered.RunId, BackupPart.Manifest),
            (stdin, ct) => stdin.WriteAsync(ManifestJson.Serialize(forged), ct).AsTask(), CancellationToken.None);
        var sets = await Vault.Catalog().SetsAsync(Tenant.Name, CancellationToken.None);
        Good = sets.Single(s => s.RunId == good.RunId);
        Tampered = sets.Single(s => s.RunId == tampered.RunId);
    }

    public async Task DisposeAsync()
    {
        await Vault.DisposeAsync();
        Cluster.Dispose();
    }
}

/// <summary>
/// The conformance of the two executors of <see cref="RestorePlan"/>: the driver's <see cref="TenantRestore"/> (the
/// local provider's restore) and the bash functions cloud-init runs (<see cref="RestoreRecipe.Functions"/>, run here on
/// this host against the same PostgreSQL and restic vault) give the same verdict for every step of the same tenant.
/// Its hooks use bash-only syntax and read the restored database through the contract's environment.
/// </summary>
public class RestoreConformanceTests(ConformanceTenant site, ITestOutputHelper output) : IClassFixture<ConformanceTenant>
{
    private const string PreHook = """[[ $FAILOVER_TENANT == acme && $FAILOVER_REHEARSAL == 0 ]] && parts=(pre restore) && echo "${parts[1]} of $FAILOVER_TENANT" """;
    private const string PostHook = """rows=$(psql -tAc 'SELECT count(*) FROM customers') && [[ $rows == 200 ]] && echo "customers: $rows" """;

    [Fact]
    public async Task A_good_backup_passes_every_step_in_both_executors()
    {
        var (local, cloud) = await BothAsync(site.Good);
        Assert.Equal(RestorePlan.For(site.Tenant.Name, [PreHook], [PostHook], 1).Steps.Select(s => StepVerdict.Pass(s)), local);
        Assert.Equal(local, cloud);
    }

    [Fact]
    public async Task A_table_that_differs_from_its_manifest_fails_verify_database_in_both_executors_after_a_bash_only_hook_passed()
    {
        var (local, cloud) = await BothAsync(site.Tampered);
        Assert.Equal(new StepVerdict("verify-database", false, RestoreFindings.ContentsDiffer("public.customers", "200")), local[^1]);
        Assert.Contains(new StepVerdict("pre-hook-1", true), local);
        Assert.DoesNotContain(local, v => v.Step == "post-hook-1");
        Assert.Equal(local, cloud);
    }

    /// <summary>Restores the set with each executor in turn into the same empty database name, and returns both verdict lists.</summary>
    private async Task<(IReadOnlyList<StepVerdict> Local, IReadOnlyList<StepVerdict> Cloud)> BothAsync(BackupSet set)
    {
        var local = await LocalAsync(set);
        output.WriteLine("local: " + string.Join(" | ", local));
        await DropAsync();
        var cloud = await CloudAsync(set);
        output.WriteLine("cloud: " + string.Join(" | ", cloud));
        await DropAsync();
        return (local, cloud);
    }

    private async Task<IReadOnlyList<StepVerdict>> LocalAsync(BackupSet set)
    {
        var target = new TenantSite(site.Tenant, site.Cluster.Database(site.Tenant.Name), site.Vault.Scratch($"local-{set.RunId}/files"));
        var vault = new ResticVault(site.Vault.Catalog());
        var snapshot = new TenantSnapshot(site.Tenant.Name, set.Database!.Id, set.Time, 0);
        var result = await site.Vault.Restore().RestoreAsync(target, RestorePointSource.Of(vault, snapshot),
            RestoreOptions.Default with { PreHooks = [PreHook], PostHooks = [PostHook] }, IRestoreJournal.None, CancellationToken.None);
        output.WriteLine(string.Join("\n", result.Hooks.Select(h => $"{h.Stage}: {h.ExitCode} {h.Output}")));
        return result.Verdicts;
    }

    /// <summary>The recipe's own functions and data, with the vault's and the database's variables a cloud server's bootstrap would set.</summary>
    private async Task<IReadOnlyList<StepVerdict>> CloudAsync(BackupSet set)
    {
        var dir = site.Vault.Scratch($"cloud-{set.RunId}");
        var tenant = site.Tenant with { PreRestore = [PreHook], PostRestore = [PostHook] };
        var recipe = new RestoreRecipe("conformance", RestoreRecipe.DefaultCredentialsFile, Path.Combine(dir, "spool"), 1,
            [new RecipeTenant(tenant, set.Database!.Id, Path.Combine(dir, "tenants", tenant.Name, "files"), [0], [1], RestorePlan.For(tenant, 1))])
        {
            Hooks = [PreHook, PostHook],
            HookTimeout = RestoreOptions.Default.HookTimeout,
        };
        await RunRecipeAsync(recipe, dir, $"{RestoreRecipe.Functions.RestoreAll} {recipe.Parallelism}");
        var verdicts = Path.Combine(dir, "state", "0.verdicts");
        Assert.True(File.Exists(verdicts), "the bash restore wrote no verdicts");
        return File.ReadAllLines(verdicts).Select(StepVerdict.Parse).ToList();
    }

    /// <summary>
    /// Runs <paramref name="recipe"/>'s functions and data in bash on this host, then <paramref name="tail"/>, with the
    /// variables a cloud server's bootstrap sets (STATE, SPOOL, TENANTS under <paramref name="dir"/>) and extra
    /// <paramref name="variables"/>; returns what it printed.
    /// </summary>
    private async Task<string> RunRecipeAsync(RestoreRecipe recipe, string dir, string tail, IReadOnlyDictionary<string, string>? variables = null)
    {
        var state = Path.Combine(dir, "state");
        foreach (var d in new[] { state, recipe.SpoolDirectory, Path.Combine(dir, "tenants"), Path.Combine(dir, "cache") }) Directory.CreateDirectory(d);
        var script = $"""
            set -uo pipefail
            cd /
            log() {'{'} echo "failover: $*" >&2; {'}'}
            fail() {'{'} echo "failover: $*" >&2; {'}'}
            {RestoreRecipe.Functions.Render()}
            SPOOL={Sh.Quote(recipe.SpoolDirectory)} TENANTS={Sh.Quote(Path.Combine(dir, "tenants"))} STATE={Sh.Quote(state)}
            PG_JOBS={recipe.PgRestoreJobs} HOOK_TIMEOUT={(int)recipe.HookTimeout.TotalSeconds} FAILOVER_REHEARSAL=0
            SECRETS=("$RESTIC_PASSWORD" "$PGPASSWORD")
            {recipe.RenderData()}
            {tail}
            """;
        var psi = new ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["RESTIC_REPOSITORY"] = site.Vault.Settings.Repository;
        psi.Environment["RESTIC_PASSWORD"] = site.Vault.Settings.Password;
        psi.Environment["RESTIC_CACHE_DIR"] = Path.Combine(dir, "cache");
        var db = site.Cluster.Database(site.Tenant.Name);
        psi.Environment["PGHOST"] = db.Host;
        psi.Environment["PGPORT"] = db.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["PGUSER"] = db.User;
        psi.Environment["PGPASSWORD"] = db.Password;
        foreach (var (name, value) in variables ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        using var bash = Process.Start(psi)!;
        await bash.StandardInput.WriteAsync(script);
        bash.StandardInput.Close();
        var stdout = bash.StandardOutput.ReadToEndAsync();
        var stderr = await bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync();
        output.WriteLine(await stdout + stderr);
        Assert.DoesNotContain(site.Vault.Settings.Password, stderr);
        return await stdout + stderr;
    }

    /// <summary>
    /// The cloud restore's progress end to end: the recipe's bash restores the tenant from the real vault while its
    /// progress loop rewrites the health document, the real health handler serves it, and the driver's cloud restore wait
    /// reads each report into the run's display until the tenant is restored.
    /// </summary>
    [Fact]
    public async Task The_cloud_restore_wait_shows_the_progress_the_server_s_restore_writes_into_the_health_document()
    {
        var set = site.Good;
        var dir = site.Vault.Scratch("cloud-progress");
        Directory.CreateDirectory(dir);
        const string slowHook = "sleep 2"; // the tenant stays restored-but-not-ready for a moment: the bar reaches its end first
        var tenant = site.Tenant with { PostRestore = [slowHook] };
        var recipe = new RestoreRecipe("progress", RestoreRecipe.DefaultCredentialsFile, Path.Combine(dir, "spool"), 1,
            [new RecipeTenant(tenant, set.Database!.Id, Path.Combine(dir, "tenants", tenant.Name, "files"), [], [0], RestorePlan.For(tenant, 1))])
        {
            Hooks = [slowHook],
        };
        var health = Path.Combine(dir, "health");
        File.WriteAllText(Path.Combine(dir, "health.py"), BootstrapScript.HealthHandler);
        var port = Processes.FreePort();
        var handler = new ProcessStartInfo("python3", [Path.Combine(dir, "health.py"), port.ToString(System.Globalization.CultureInfo.InvariantCulture), "/health", health]);
        handler.Environment["FAILOVER_HEALTH_BIND"] = "127.0.17.1";
        using var server = Process.Start(handler)!;
        try
        {
            var seen = new System.Collections.Concurrent.ConcurrentQueue<TransferProgress>();
            var restorer = new Failover.Driver.Cloud.CloudTenantRestorer(new HttpClient(), TimeProvider.System, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100), null, seen.Enqueue);
            var url = $"http://127.0.17.1:{port}/health";
            var wait = restorer.RestoreAsync(tenant, new TenantSnapshot(tenant.Name, set.Database.Id, set.Time, 0), new SiteAddress(["127.0.17.1"], url, new()), null!, CancellationToken.None);
            await RunRecipeAsync(recipe, dir, RestoreRecipe.Functions.RestoreWatched(recipe.Parallelism, health) +
                $"\n{RestoreRecipe.Functions.WriteHealth} progress progress-db-1 {Sh.Quote(health)}",
                new Dictionary<string, string> { ["STACK"] = "progress", ["SERVER"] = "progress-db-1", ["PROGRESS_EVERY"] = "0.2" });
            Assert.StartsWith("acme restored from " + set.Database.Id, await wait.WaitAsync(TimeSpan.FromSeconds(30)));

            var reports = seen.ToList();
            output.WriteLine(string.Join("\n", reports.Select(r => r.Describe())));
            var total = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(recipe.SpoolDirectory, $"acme.{BackupLayout.ManifestFileName}")))!["bytes"]!.GetValue<long>();
            Assert.All(reports, r => Assert.Equal(("acme", total), (r.Tenant, r.Total)));
            Assert.Contains(reports, r => !r.Finished); // under way: the manifest fetched, the dump not yet through
            Assert.True(reports[^1].Finished, reports[^1].Describe());
            Assert.Equal(reports.Select(r => r.Done).Order(), reports.Select(r => r.Done)); // never backwards
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
            await DropAsync();
        }
    }

    private async Task DropAsync()
    {
        await using var admin = new NpgsqlConnection(site.Cluster.ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{site.Tenant.Name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
