using System.Globalization;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Emulation;

namespace Failover.Benchmarks;

/// <summary>
/// `booted-restore`: a tenant's restore inside a booted cloud server, by the recipe Core renders into its user data
/// (the bash functions cloud-init runs, verification included) against the raw tools an operator would type on that
/// server (restic restore + createdb + pg_restore with the same flags, nothing verified), same snapshot, same server.
/// The server is the standby's data server after `failover drill --stacks infra/stacks --keep`, which this program
/// runs first (as root, under nothing else booting: it uses the drill's fixed addresses) and removes at the end.
/// </summary>
public static class BootedRestoreBenchmark
{
    public static async Task<Verdict> RunAsync(BenchOptions options, CancellationToken cancellation)
    {
        var scale = options.Number("--scale", 0.01);
        var rounds = Math.Max(1, options.Count("--rounds", 3));
        var tenantName = options.Text("--tenant", "contoso");
        var root = DrillBenchmark.RepositoryRoot();
        var stacks = Path.Combine(root, "infra", "stacks");
        var state = Directory.CreateTempSubdirectory("failover-bench-booted-").FullName;
        string[] Drill(params string[] more) => ["drill", "--stacks", stacks, "--state-dir", state, .. more];
        try
        {
            Console.WriteLine($"booted-restore: failover drill --stacks {stacks} --scale {scale.ToString(CultureInfo.InvariantCulture)} --keep (load average {Timing.Load()})");
            var drillTime = await Timing.MeasureAsync(async () =>
            {
                var code = await Task.Run(() => new App(Console.Out, Console.Error, root).Run(Drill("--scale", scale.ToString(CultureInfo.InvariantCulture), "--keep")), cancellation);
                if (code != 0) throw new InvalidOperationException($"the drill failed (exit {code}); no server to measure in");
            });
            Console.WriteLine($"drill (with its clean-up left for later): {Timing.Seconds(drillTime)}");

            var topology = TopologyLoader.Load(stacks);
            var standby = topology.Standbys.First(s => s.Site.Provider == Provider.Hetzner) with { Mode = SiteMode.Mvd };
            var plan = SitePlan.For(standby);
            var data = plan.DataServer ?? throw new InvalidOperationException($"{standby.Name} has no data server");
            var emulation = Path.Combine(state, "cloud-drill", "emulation");
            var server = EmulatedServer.Attach(EmulatedCloud.Read(emulation).Servers[data.Name].Record, Serilog.Core.Logger.None);
            var tenant = topology.Tenants.Single(t => t.Name == tenantName);
            var (dbId, filesId) = await LatestSetAsync(server, tenant.Name, cancellation);
            var jobs = data.Capacity.Vcpus;
            Console.WriteLine($"server {data.Name} ({data.Type}, {jobs} vCPU: pg_restore --jobs {jobs} on both sides), tenant {tenant.Name}, " +
                              $"database snapshot {dbId[..8]}, files snapshot {filesId[..8]}; {rounds} rounds, alternating which side goes first");

            var ours = new List<double>();
            var raw = new List<double>();
            string? expected = null;
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var side in round % 2 == 1 ? new[] { "ours", "raw" } : ["raw", "ours"])
                {
                    cancellation.ThrowIfCancellationRequested();
                    await RunAsync(server, Reset(tenant.Name), "reset", cancellation);
                    var script = side == "ours" ? Ours(tenant, dbId, jobs) : Raw(tenant.Name, dbId, filesId, jobs);
                    var took = await Timing.MeasureAsync(() => RunAsync(server, script, side, cancellation));
                    (side == "ours" ? ours : raw).Add(took.TotalSeconds);
                    // Untimed: both sides end with the same rows, so the comparison is of equal results.
                    var rows = (await RunAsync(server, CountRows(tenant.Name), "count", cancellation)).Trim();
                    expected ??= rows;
                    if (rows != expected) throw new InvalidOperationException($"{side} restored other rows than the first restore:\n{rows}\nvs\n{expected}");
                    Console.WriteLine($"  round {round} {side,-4} {Timing.Seconds(took),10}   ({rows.Split('\n').Length} tables, load {Timing.Load()})");
                }
            }
            Console.WriteLine();
            Console.WriteLine($"  {"",-6} {"median",10} {"min",10} {"max",10}");
            Console.WriteLine($"  {"ours",-6} {Timing.Seconds(Timing.Median(ours)),10} {Timing.Seconds(ours.Min()),10} {Timing.Seconds(ours.Max()),10}");
            Console.WriteLine($"  {"raw",-6} {Timing.Seconds(Timing.Median(raw)),10} {Timing.Seconds(raw.Min()),10} {Timing.Seconds(raw.Max()),10}");
            Console.WriteLine("ours: the recipe's restore_tenant as cloud-init runs it (find the run, restic dump spooled, pg_restore, files,");
            Console.WriteLine("      then every table's rows and checksum and every file's SHA-256 against the manifest); raw: restic restore");
            Console.WriteLine("      of the dump and of the files, createdb, pg_restore, nothing verified. Both inside the same booted server.");
            var verdict = new Verdict(Timing.Median(ours) / Timing.Median(raw), 1.10);
            verdict.Print();
            return verdict;
        }
        finally
        {
            new App(Console.Out, Console.Error, root).Run(Drill("--clean"));
            Directory.Delete(state, recursive: true);
        }
    }

    private const string Scratch = "/var/tmp/failover-bench";

    /// <summary>The server's credentials file read the way its bootstrap reads it, and restic's cache on the data volume.</summary>
    private static string Credentials() =>
        $"set -a; . {Sh.Quote(RestoreRecipe.DefaultCredentialsFile)}; set +a; export RESTIC_CACHE_DIR={Sh.Quote(DataVolume.ResticCacheDirectory)}\n";

    private static string Reset(string tenant) =>
        $"runuser -u postgres -- dropdb --if-exists -- {Sh.Quote(tenant)} && rm -rf -- {Sh.Quote(RestoreRecipe.TenantsDirectory + "/" + tenant)} {Scratch} " +
        $"{Sh.Quote(RestoreRecipe.DefaultSpoolDirectory + "/" + tenant + ".dump")}";

    /// <summary>The recipe's functions and one record, as the bootstrap sets them up, restoring one tenant.</summary>
    private static string Ours(Tenant tenant, string snapshot, int jobs)
    {
        var recipe = new RestoreRecipe("booted-restore", RestoreRecipe.DefaultCredentialsFile, RestoreRecipe.DefaultSpoolDirectory, jobs,
            [new RecipeTenant(tenant, snapshot, RestoreRecipe.FilesDirectory(tenant.Name), [], [], RestorePlan.For(tenant, jobs))]);
        return "set -uo pipefail\ncd /\nlog() { echo \"failover: $*\" >&2; }\nfail() { echo \"failover: $*\" >&2; }\n" + Credentials() +
               "SECRETS=(\"$RESTIC_PASSWORD\")\n" +
               $"SPOOL={Sh.Quote(recipe.SpoolDirectory)} TENANTS={Sh.Quote(RestoreRecipe.TenantsDirectory)} STATE={Scratch}/state PG_JOBS={jobs} " +
               $"HOOK_TIMEOUT={(int)recipe.HookTimeout.TotalSeconds} FAILOVER_REHEARSAL=0\n" +
               $"install -d -o postgres -m 0700 \"$SPOOL\"; install -d -m 0700 \"$STATE\" \"$RESTIC_CACHE_DIR\" \"$TENANTS\"\n" +
               RestoreRecipe.Functions.Render() + "\n" + recipe.RenderData() + "\n" +
               $"{RestoreRecipe.Functions.RestoreAll} 1\n" +
               "test -s \"$STATE/0.ok\" || { echo \"the recipe did not restore the tenant: $(cat \"$STATE/0.verdicts\" 2>/dev/null)\" >&2; exit 1; }\n";
    }

    /// <summary>What an operator types on the server: restic restore of both parts, createdb, pg_restore with the recipe's flags.</summary>
    private static string Raw(string tenant, string dbId, string filesId, int jobs)
    {
        var t = Sh.Quote(tenant);
        return "set -euo pipefail\n" + Credentials() +
               $"install -d -o postgres -m 0700 {Scratch}/db\n" +
               $"restic restore --quiet {dbId} --target {Scratch}/db\nchown -R postgres {Scratch}/db\n" +
               $"runuser -u postgres -- createdb -- {t}\n" +
               $"runuser -u postgres -- pg_restore --jobs={jobs} --no-owner --no-privileges --exit-on-error --dbname={t} {Scratch}/db/{t}.dump\n" +
               $"restic restore --quiet {filesId} --target {Sh.Quote(RestoreRecipe.FilesDirectory(tenant))}\n";
    }

    /// <summary>Every table's name and row count, one per line, sorted.</summary>
    private static string CountRows(string tenant) =>
        $"runuser -u postgres -- psql --no-psqlrc -X -tA -d {Sh.Quote(tenant)} -c \"SELECT string_agg(format('SELECT %L || '' '' || count(*) FROM %I.%I', " +
        "table_schema || '.' || table_name, table_schema, table_name), ' UNION ALL ') FROM information_schema.tables " +
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'\" | " +
        $"runuser -u postgres -- psql --no-psqlrc -X -tA -d {Sh.Quote(tenant)} | sort";

    /// <summary>The newest complete set of the tenant in the vault, as the server's restic lists it: its database and files snapshot ids.</summary>
    private static async Task<(string Database, string Files)> LatestSetAsync(EmulatedServer server, string tenant, CancellationToken cancellation)
    {
        var listing = await RunAsync(server, Credentials() + $"restic snapshots --json --tag {BackupTags.Of(BackupTags.Tenant, tenant)}", "restic snapshots", cancellation);
        var snapshots = JsonNode.Parse(listing)!.AsArray()
            .Select(s => (Id: (string)s!["id"]!, Time: DateTimeOffset.Parse((string)s["time"]!, CultureInfo.InvariantCulture),
                Tags: s["tags"]!.AsArray().Select(t => (string)t!).ToList()))
            .ToList();
        string? Tag(List<string> tags, string key) => tags.FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
        var sets = snapshots.GroupBy(s => Tag(s.Tags, BackupTags.Run))
            .Select(g => (Time: g.Max(s => s.Time),
                Database: g.FirstOrDefault(s => Tag(s.Tags, BackupTags.Part) == BackupTags.PartName(BackupPart.Database)).Id,
                Files: g.FirstOrDefault(s => Tag(s.Tags, BackupTags.Part) == BackupTags.PartName(BackupPart.Files)).Id,
                Manifest: g.Any(s => Tag(s.Tags, BackupTags.Part) == BackupTags.PartName(BackupPart.Manifest))))
            .Where(s => s.Database is not null && s.Files is not null && s.Manifest)
            .OrderByDescending(s => s.Time).ToList();
        return sets.Count > 0 ? (sets[0].Database!, sets[0].Files!) : throw new InvalidOperationException($"the vault holds no complete set of {tenant}");
    }

    private static async Task<string> RunAsync(EmulatedServer server, string script, string what, CancellationToken cancellation)
    {
        var r = await server.ExecAsync(["bash", "-c", script], cancellation);
        if (r.ExitCode != 0) throw new InvalidOperationException($"{what} on {server.Name} exited {r.ExitCode}: {r.Errors.Trim().Split('\n').LastOrDefault()}");
        return r.Output;
    }
}
