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

[CollectionDefinition(Name)]
public sealed class RestoreConformanceTenant : ICollectionFixture<ConformanceTenant>
{
    public const string Name = "restore conformance";
}

/// <summary>
/// The restore's contract (<see cref="ISiteRestore"/> in Runbooks/Ports.cs: restored and verified against the manifest,
/// else a failed verdict), held against both executors of <see cref="RestorePlan"/> the way restic's backend tests run
/// one suite per backend: the driver's <see cref="TenantRestore"/> (the local provider's restore, behind
/// <see cref="SiteRestorer"/>) and the bash functions cloud-init runs (<see cref="RestoreRecipe.Functions"/>, run here on
/// this host against the same PostgreSQL and restic vault, behind <see cref="Cloud.CloudTenantRestorer"/>). Each case
/// expects every step's verdict, so both executors give the same verdicts for the same tenant. The hooks use bash-only
/// syntax and read the restored database through the contract's environment; one outlives the hook time limit.
/// One tenant for both executors (a collection fixture): the suite stays cheap.
/// </summary>
[Collection(RestoreConformanceTenant.Name)]
public abstract class RestoreConformance(ConformanceTenant site, ITestOutputHelper output)
{
    protected const string PreHook = """[[ $FAILOVER_TENANT == acme && $FAILOVER_REHEARSAL == 0 ]] && parts=(pre restore) && echo "${parts[1]} of $FAILOVER_TENANT" """;
    protected const string PostHook = """rows=$(psql -tAc 'SELECT count(*) FROM customers') && [[ $rows == 200 ]] && echo "customers: $rows" """;
    private const string SlowHook = "sleep 20";

    protected ConformanceTenant Site { get; } = site;
    protected ITestOutputHelper Output { get; } = output;

    /// <summary>Restores the set with this executor into the tenant's (empty) database and returns every step's verdict.</summary>
    protected abstract Task<IReadOnlyList<StepVerdict>> RestoreAsync(BackupSet set, IReadOnlyList<string> preHooks, IReadOnlyList<string> postHooks, TimeSpan hookTimeout);

    private async Task<IReadOnlyList<StepVerdict>> RestoredAsync(BackupSet set, IReadOnlyList<string> pre, IReadOnlyList<string> post, TimeSpan? hookTimeout = null)
    {
        try
        {
            var verdicts = await RestoreAsync(set, pre, post, hookTimeout ?? RestoreOptions.Default.HookTimeout);
            Output.WriteLine(string.Join(" | ", verdicts));
            return verdicts;
        }
        finally { await DropAsync(); }
    }

    /// <summary>Every step of the plan passing up to <paramref name="failing"/>, which fails for <paramref name="reason"/>.</summary>
    private static List<StepVerdict> PassingUpTo(RestorePlan plan, string failing, string reason) =>
        [.. plan.Steps.TakeWhile(s => s.Name != failing).Select(s => StepVerdict.Pass(s)), new StepVerdict(failing, false, reason)];

    [Fact]
    public async Task A_good_backup_is_restored_and_verified_passing_every_step_its_bash_only_hooks_included()
    {
        var verdicts = await RestoredAsync(Site.Good, [PreHook], [PostHook]);
        Assert.Equal(RestorePlan.For(Site.Tenant.Name, [PreHook], [PostHook], 1).Steps.Select(s => StepVerdict.Pass(s)), verdicts);
    }

    [Fact]
    public async Task A_table_that_differs_from_its_manifest_fails_verify_database_after_a_bash_only_hook_passed()
    {
        var verdicts = await RestoredAsync(Site.Tampered, [PreHook], [PostHook]);
        Assert.Equal(PassingUpTo(RestorePlan.For(Site.Tenant.Name, [PreHook], [PostHook], 1), "verify-database", RestoreFindings.ContentsDiffer("public.customers", "200")), verdicts);
    }

    [Fact]
    public async Task A_hook_that_outlives_the_hook_time_limit_is_killed_and_fails_its_step()
    {
        var verdicts = await RestoredAsync(Site.Good, [SlowHook], [], TimeSpan.FromSeconds(1));
        Assert.Equal(PassingUpTo(RestorePlan.For(Site.Tenant.Name, [SlowHook], [], 1), "pre-hook-1", RestoreFindings.HookKilled("1")), verdicts);
    }

    protected async Task DropAsync()
    {
        await using var admin = new NpgsqlConnection(Site.Cluster.ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Site.Tenant.Name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>The local provider's executor: the driver's <see cref="TenantRestore"/>.</summary>
public sealed class LocalRestoreConformance(ConformanceTenant fixture, ITestOutputHelper log) : RestoreConformance(fixture, log)
{
    protected override async Task<IReadOnlyList<StepVerdict>> RestoreAsync(BackupSet set, IReadOnlyList<string> preHooks, IReadOnlyList<string> postHooks, TimeSpan hookTimeout)
    {
        var target = new TenantSite(Site.Tenant, Site.Cluster.Database(Site.Tenant.Name), Site.Vault.Scratch($"local-{set.RunId}-{Guid.NewGuid():N}/files"));
        var vault = new ResticVault(Site.Vault.Catalog());
        var snapshot = new TenantSnapshot(Site.Tenant.Name, set.Database!.Id, set.Time, 0);
        var result = await Site.Vault.Restore().RestoreAsync(target, RestorePointSource.Of(vault, snapshot),
            RestoreOptions.Default with { PreHooks = preHooks, PostHooks = postHooks, HookTimeout = hookTimeout }, IRestoreJournal.None, CancellationToken.None);
        Output.WriteLine(string.Join("\n", result.Hooks.Select(h => $"{h.Stage}: {h.ExitCode} {h.Output}")));
        return result.Verdicts;
    }
}

/// <summary>The cloud servers' executor: the bash functions of <see cref="RestoreRecipe"/>, run on this host.</summary>
public sealed class RecipeRestoreConformance(ConformanceTenant fixture, ITestOutputHelper log) : RestoreConformance(fixture, log)
{
    /// <summary>The recipe's own functions and data, with the vault's and the database's variables a cloud server's bootstrap would set.</summary>
    protected override async Task<IReadOnlyList<StepVerdict>> RestoreAsync(BackupSet set, IReadOnlyList<string> preHooks, IReadOnlyList<string> postHooks, TimeSpan hookTimeout)
    {
        var dir = Site.Vault.Scratch($"cloud-{set.RunId}-{Guid.NewGuid():N}");
        var tenant = Site.Tenant with { PreRestore = preHooks, PostRestore = postHooks };
        var hooks = preHooks.Concat(postHooks).ToList();
        var recipe = new RestoreRecipe("conformance", RestoreRecipe.DefaultCredentialsFile, Path.Combine(dir, "spool"), 1,
            [new RecipeTenant(tenant, set.Database!.Id, Path.Combine(dir, "tenants", tenant.Name, "files"),
                Enumerable.Range(0, preHooks.Count).ToList(), Enumerable.Range(preHooks.Count, postHooks.Count).ToList(), RestorePlan.For(tenant, 1))])
        {
            Hooks = hooks,
            HookTimeout = hookTimeout,
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
        psi.Environment["RESTIC_REPOSITORY"] = Site.Vault.Settings.Repository;
        psi.Environment["RESTIC_PASSWORD"] = Site.Vault.Settings.Password;
        psi.Environment["RESTIC_CACHE_DIR"] = Path.Combine(dir, "cache");
        var db = Site.Cluster.Database(Site.Tenant.Name);
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
        Output.WriteLine(await stdout + stderr);
        Assert.DoesNotContain(Site.Vault.Settings.Password, stderr);
        return await stdout + stderr;
    }

    /// <summary>The health handler a cloud server's health unit runs (<see cref="BootstrapScript.HealthHandler"/>), serving <paramref name="document"/> at /health on <paramref name="address"/>.</summary>
    private static Process StartHealthHandler(string dir, string address, string document, out int port)
    {
        File.WriteAllText(Path.Combine(dir, "health.py"), BootstrapScript.HealthHandler);
        port = Processes.FreePort();
        var handler = new ProcessStartInfo("python3", [Path.Combine(dir, "health.py"), port.ToString(System.Globalization.CultureInfo.InvariantCulture), "/health", document]);
        handler.Environment["FAILOVER_HEALTH_BIND"] = address;
        return Process.Start(handler)!;
    }

    /// <summary>
    /// The cloud restore's progress end to end: the recipe's bash restores the tenant from the real vault while its
    /// progress loop rewrites the health document, the real health handler serves it, and the driver's cloud restore wait
    /// reads each report into the run's display until the tenant is restored.
    /// </summary>
    [Fact]
    public async Task The_cloud_restore_wait_shows_the_progress_the_server_s_restore_writes_into_the_health_document()
    {
        var set = Site.Good;
        var dir = Site.Vault.Scratch("cloud-progress");
        Directory.CreateDirectory(dir);
        const string slowHook = "sleep 2"; // the tenant stays restored-but-not-ready for a moment: the bar reaches its end first
        var tenant = Site.Tenant with { PostRestore = [slowHook] };
        var recipe = new RestoreRecipe("progress", RestoreRecipe.DefaultCredentialsFile, Path.Combine(dir, "spool"), 1,
            [new RecipeTenant(tenant, set.Database!.Id, Path.Combine(dir, "tenants", tenant.Name, "files"), [], [0], RestorePlan.For(tenant, 1))])
        {
            Hooks = [slowHook],
        };
        var health = Path.Combine(dir, "health");
        using var server = StartHealthHandler(dir, "127.0.17.1", health, out var port);
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
            Output.WriteLine(string.Join("\n", reports.Select(r => r.Describe())));
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

    /// <summary>
    /// Two tenants on one server, one of whose sets is not in the vault: the recipe restores the other, writes a degraded
    /// document (503) and the real health handler serves it; the driver takes the restored tenant from it and names the
    /// failed one, instead of waiting for a 200 that never comes.
    /// </summary>
    [Fact]
    public async Task A_tenant_restored_beside_one_that_failed_is_reported_restored_from_the_final_degraded_document()
    {
        var set = Site.Good;
        var dir = Site.Vault.Scratch("cloud-degraded");
        Directory.CreateDirectory(dir);
        var lost = new Tenant("globex", 1, 1);
        var lostId = "0badc0ffee00" + new string('0', 52);
        var recipe = new RestoreRecipe("degraded", RestoreRecipe.DefaultCredentialsFile, Path.Combine(dir, "spool"), 1,
            [new RecipeTenant(Site.Tenant, set.Database!.Id, Path.Combine(dir, "tenants", Site.Tenant.Name, "files"), [], [], RestorePlan.For(Site.Tenant, 1)),
             new RecipeTenant(lost, lostId, Path.Combine(dir, "tenants", lost.Name, "files"), [], [], RestorePlan.For(lost, 1))]);
        var health = Path.Combine(dir, "health");
        using var server = StartHealthHandler(dir, "127.0.17.2", health, out var port);
        try
        {
            var restorer = new Failover.Driver.Cloud.CloudTenantRestorer(new HttpClient(), TimeProvider.System, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100), null);
            var site = new SiteAddress(["127.0.17.2"], $"http://127.0.17.2:{port}/health", new());
            var restored = restorer.RestoreAsync(Site.Tenant, new TenantSnapshot(Site.Tenant.Name, set.Database.Id, set.Time, 0), site, null!, CancellationToken.None);
            var failed = restorer.RestoreAsync(lost, new TenantSnapshot(lost.Name, lostId, set.Time, 0), site, null!, CancellationToken.None);
            await RunRecipeAsync(recipe, dir, RestoreRecipe.Functions.RestoreWatched(recipe.Parallelism, health) +
                $"\n{RestoreRecipe.Functions.WriteHealth} degraded degraded-db-1 {Sh.Quote(health)}",
                new Dictionary<string, string> { ["STACK"] = "degraded", ["SERVER"] = "degraded-db-1", ["PROGRESS_EVERY"] = "0.2" });
            Assert.Contains("\"degraded\"", File.ReadAllText(health));

            Assert.StartsWith("acme restored from " + set.Database.Id, await restored.WaitAsync(TimeSpan.FromSeconds(30)));
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => failed.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("restore of globex from snapshot " + lostId + " failed on the server", e.Message);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
            await DropAsync();
        }
    }
}
