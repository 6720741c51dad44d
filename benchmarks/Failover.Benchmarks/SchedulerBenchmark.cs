using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Local;

namespace Failover.Benchmarks;

/// <summary>
/// `scheduler`: mean tenant time-to-restore of our schedule (tier, then smallest first, 3 at a time) against
/// restoring one tenant at a time in declared order; first with Core's estimate model on the full-size
/// fleet, then measured with the restore the product runs (the failover's TenantQueue, tier then smallest first, over
/// the TenantRestore the local provider's restore walks) on the fleet scaled down, with
/// declared order on the same workers measured too, so the order's own share shows.
/// </summary>
public static class SchedulerBenchmark
{
    private const double Target = 0.5;

    public static async Task<Verdict> RunAsync(BenchOptions options, CancellationToken cancellation)
    {
        var fleet = Fleet.Declared();
        // The example production stack's restore settings (infra/stacks/Pulumi.prod-fsn1.yaml).
        var settings = new RestoreSettings(3, 40, TimeSpan.FromSeconds(20));
        Console.WriteLine($"scheduler benchmark: {fleet.Count} tenants, {fleet.Sum(t => t.DataGb):0.0} GB in all " +
                          $"(3 of 20-30 GB, 7 of 2-8 GB, 30 of 0.05-1 GB), tiers 1/2/3: {string.Join("/", Enumerable.Range(1, 3).Select(i => fleet.Count(t => t.Tier == i)))}");
        // The fleet in declared order, so the figures can be checked by hand: name tier/GB.
        foreach (var line in fleet.Chunk(8))
            Console.WriteLine("    " + string.Join("  ", line.Select(t => $"{t.Name} t{t.Tier}/{t.DataGb:0.##}")));
        var model = Model(fleet, settings);
        if (options.Flag("--model-only")) { model.Print(); return model; }
        Console.WriteLine();
        var scale = options.Number("--scale", 0.001);
        // The vault link scaled like the data: the model's per-stream speed times the scale, unless --link says otherwise.
        var linkKiBps = options.Flag("--unlimited") ? 0 : Math.Max(1, options.Count("--link", (int)Math.Round(settings.StreamMBps * 1e6 * scale / 1024)));
        var measured = await MeasuredAsync(fleet, settings.Parallelism, scale, linkKiBps, Math.Max(1, options.Count("--rounds", 1)), cancellation);
        Console.WriteLine();
        model.Print("(a) estimate model ratio");
        Console.WriteLine("(b) measured on the scaled fleet, the verdict of this benchmark:");
        measured.Print();
        return measured;
    }

    /// <summary>(a) Core's estimate: overhead plus size at one stream's speed per tenant.</summary>
    private static Verdict Model(IReadOnlyList<Tenant> fleet, RestoreSettings settings)
    {
        Func<Tenant, TimeSpan> estimate = t => RestoreSchedule.EstimateFor(t, settings);
        var ours = RestoreSchedule.Plan(fleet, settings);
        var oursOneAtATime = RestoreSchedule.Plan(fleet, settings with { Parallelism = 1 });
        var sequential = InDeclaredOrder(fleet, 1, estimate);
        var declaredParallel = InDeclaredOrder(fleet, settings.Parallelism, estimate);
        Console.WriteLine();
        Console.WriteLine($"(a) estimate model (RestoreSchedule.EstimateFor: {settings.TenantOverhead.TotalSeconds:0} s + size at {settings.StreamMBps:0} MB/s per stream)");
        Console.WriteLine($"    {"strategy",-52} {"mean TTR",10} {"tier-1 mean",12} {"all back",10}");
        void Row(string name, IReadOnlyList<(Tenant Tenant, TimeSpan Finish)> items) =>
            Console.WriteLine($"    {name,-52} {Minutes(items.Average(i => i.Finish.TotalSeconds)),10} {Minutes(items.Where(i => i.Tenant.Tier == 1).Average(i => i.Finish.TotalSeconds)),12} {Minutes(items.Max(i => i.Finish.TotalSeconds)),10}");
        Row("sequential, declared order (baseline)", sequential);
        Row("declared order, 3 at a time (parallelism only)", declaredParallel);
        Row("tier then smallest first, 1 at a time (order only)", oursOneAtATime.Items.Select(i => (i.Tenant, i.Finish)).ToList());
        Row("ours: tier then smallest first, 3 at a time", ours.Items.Select(i => (i.Tenant, i.Finish)).ToList());
        Console.WriteLine("    The model gives each of the 3 streams its full speed; on a real host they share disk and CPU (see (b)).");
        return new Verdict(ours.MeanTimeToRestore.TotalSeconds / sequential.Average(i => i.Finish.TotalSeconds), Target);
    }

    /// <summary>List scheduling in the declared order on <paramref name="workers"/> workers: what a config without our ordering gets.</summary>
    private static IReadOnlyList<(Tenant Tenant, TimeSpan Finish)> InDeclaredOrder(IReadOnlyList<Tenant> fleet, int workers, Func<Tenant, TimeSpan> duration)
    {
        var free = new TimeSpan[workers];
        return fleet.Select(t =>
        {
            var w = Array.IndexOf(free, free.Min());
            free[w] += duration(t);
            return (t, free[w]);
        }).ToList();
    }

    /// <summary>(b) The same fleet scaled down, backed up for real, restored both ways by the real code.</summary>
    private static async Task<Verdict> MeasuredAsync(IReadOnlyList<Tenant> fleet, int parallelism, double scale, int linkKiBps, int rounds, CancellationToken cancellation)
    {
        Console.WriteLine($"(b) measured: the fleet seeded at scale {scale} (TenantSeed: dataGb x {scale} GB, at least 0.2 MB), backed up with TenantBackup,");
        Console.WriteLine($"    restored with TenantRestore in the failover's TenantQueue (parallelism {parallelism}), and in declared order one at a time and {parallelism} at a time. Load average {Timing.Load()}");
        Console.WriteLine(linkKiBps > 0
            ? $"    Vault link: {linkKiBps} KiB/s per restic process (restic --limit-download), the model's per-stream speed scaled like the data,"
              + "\n    as a failover reads an external vault over the network; --unlimited reads the local directory at disk and CPU speed."
            : "    Vault link: unlimited (--unlimited): the vault is a local directory, restores are bound by this machine's CPU.");
        await using var site = await ScratchSite.StartAsync("127.0.0.82", cancellation);
        var backup = new TenantBackup(site.Repository, site.Postgres, site.Secrets, TimeProvider.System, site.Log);
        var runId = TenantBackup.NewRunId(TimeProvider.System);
        var points = new Dictionary<string, RestorePoint>();
        var prepare = await Timing.MeasureAsync(async () =>
        {
            foreach (var tenant in fleet)
            {
                var files = site.PathOf($"source/{tenant.Name}");
                await TenantSeed.SeedAsync(tenant, site.Address, site.Port, files, scale, cancellation);
                var result = await backup.BackupTenantAsync(new TenantSite(tenant, site.Database(tenant.Name), files), runId, cancellation);
                if (!result.Succeeded) throw new InvalidOperationException($"backup of {tenant.Name} failed: {result.Error}");
                points[tenant.Name] = new RestorePoint(result.Set!, result.Manifest!);
                // The source is no longer needed: keep the cluster small so both restores see the same server.
                await site.DropAsync(tenant.Name, files, cancellation);
            }
        });
        var dumpMb = points.Values.Sum(p => p.Manifest.Database.DumpBytes + p.Manifest.Files.Bytes) / 1e6;
        Console.WriteLine($"    seeded and backed up in {Timing.Seconds(prepare)}: {dumpMb:0} MB of dumps and files in the vault, " +
                          $"largest tenant {points.Values.Max(p => p.Manifest.Bytes) / 1e6:0.0} MB, smallest {points.Values.Min(p => p.Manifest.Bytes) / 1e6:0.00} MB");

        var restore = new TenantRestore(linkKiBps > 0 ? site.RepositoryBehindLink(linkKiBps) : site.Repository, site.Postgres, new RestoreHooks(site.Secrets), site.Secrets, site.Log);
        // Three sides, each from nothing: the baseline, parallelism alone (declared order, same workers), and ours.
        const string Sequential = "sequential", Declared = "declared", Ours = "ours";
        var means = new Dictionary<string, List<double>> { [Sequential] = [], [Declared] = [], [Ours] = [] };
        var allBack = new Dictionary<string, List<double>> { [Sequential] = [], [Declared] = [], [Ours] = [] };
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var side in round % 2 == 1 ? new[] { Sequential, Declared, Ours } : [Ours, Declared, Sequential])
            {
                var jobs = fleet.Select(t => new TenantRestoreJob(
                    new TenantSite(t, site.Database($"{side[0]}{round}_{t.Name}"), site.PathOf($"{side}-{round}/{t.Name}")), points[t.Name], RestoreOptions.Default)).ToList();
                IReadOnlyList<(string Tenant, TimeSpan Started, TimeSpan Finished)> runs;
                if (side == Ours)
                {
                    // The product's restore step: TenantQueue in restore order, parallelism at a time (FailoverSteps.RestoreAllAsync).
                    var started = DateTimeOffset.UtcNow;
                    var turns = await TenantQueue.RunAsync(jobs.Select(j => j.Target.Tenant), parallelism, TimeProvider.System,
                        (tenant, ct) => restore.RestoreAsync(jobs.Single(j => j.Target.Tenant == tenant), ct), cancellation);
                    var failed = turns.Where(t => t.Result is not { Succeeded: true }).ToList();
                    if (failed.Count > 0) throw new InvalidOperationException($"our restore failed: {string.Join("; ", failed.Select(f => $"{f.Tenant.Name}: {f.Error?.Message ?? f.Result?.Error}"))}");
                    runs = turns.Select(t => (t.Tenant.Name, t.Started - started, t.Finished - started)).ToList();
                }
                else
                    runs = await InDeclaredOrderAsync(restore, jobs, side == Sequential ? 1 : parallelism, cancellation);
                var mean = runs.Average(r => r.Finished.TotalSeconds);
                means[side].Add(mean);
                allBack[side].Add(runs.Max(r => r.Finished).TotalSeconds);
                var took = runs.Select(r => (r.Tenant, Seconds: (r.Finished - r.Started).TotalSeconds)).ToList();
                Console.WriteLine($"    round {round}: {side,-10} mean TTR {Timing.Seconds(mean),9}, all back after {Timing.Seconds(runs.Max(r => r.Finished)),9}; " +
                                  $"one tenant took {Timing.Seconds(took.Min(t => t.Seconds))} (fastest) to {Timing.Seconds(took.Max(t => t.Seconds))} ({took.MaxBy(t => t.Seconds).Tenant})");
                foreach (var job in jobs) await site.DropAsync(job.Target.Database.Name, job.Target.FilesDirectory, cancellation);
            }
        }
        Console.WriteLine($"    {"strategy",-48} {"mean TTR",10} {"all back",10}   (medians over {rounds} round(s), load average now {Timing.Load()})");
        void Row(string name, string side) =>
            Console.WriteLine($"    {name,-48} {Timing.Seconds(Timing.Median(means[side])),10} {Timing.Seconds(Timing.Median(allBack[side])),10}");
        Row("sequential, declared order (baseline)", Sequential);
        Row($"declared order, {parallelism} at a time (parallelism only)", Declared);
        Row("ours: tier then smallest first (TenantQueue), parallelism " + parallelism, Ours);
        Console.WriteLine($"    order's own gain at equal parallelism: ours / declared order = {Timing.Median(means[Ours]) / Timing.Median(means[Declared]):0.00}");
        var (ours, sequential) = (means[Ours], means[Sequential]);
        return new Verdict(Timing.Median(ours) / Timing.Median(sequential), Target);
    }

    /// <summary>Restores the jobs in declared order on <paramref name="workers"/> workers: what a config without our ordering gets.</summary>
    private static async Task<IReadOnlyList<(string Tenant, TimeSpan Started, TimeSpan Finished)>> InDeclaredOrderAsync(
        TenantRestore restore, IReadOnlyList<TenantRestoreJob> jobs, int workers, CancellationToken cancellation)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var slots = new SemaphoreSlim(workers);
        var tasks = new List<Task<(string, TimeSpan, TimeSpan)>>();
        foreach (var job in jobs)
        {
            await slots.WaitAsync(cancellation); // taken in order, so tenants also start in declared order
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    var started = watch.Elapsed;
                    var result = await restore.RestoreAsync(job, cancellation);
                    if (!result.Succeeded) throw new InvalidOperationException($"restore of {job.Target.Tenant.Name} failed: {result.Error}");
                    return (job.Target.Tenant.Name, started, watch.Elapsed);
                }
                finally { slots.Release(); }
            }, cancellation));
        }
        return await Task.WhenAll(tasks);
    }

    private static string Minutes(double seconds) => $"{seconds / 60:0.0} min";
}
