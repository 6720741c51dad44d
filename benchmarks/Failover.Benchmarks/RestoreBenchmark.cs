using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Local;

namespace Failover.Benchmarks;

/// <summary>
/// `restore`: our restore of one snapshot (TenantRestore) against the same snapshot restored with the raw
/// tools by hand, alternately, several rounds; the ratio of the medians is our overhead.
/// </summary>
public static class RestoreBenchmark
{
    private const string TenantName = "acme";

    public static async Task<Verdict> RunAsync(BenchOptions options, CancellationToken cancellation)
    {
        var megabytes = options.Number("--mb", 300);
        var rounds = Math.Max(1, options.Count("--rounds", 3));
        Console.WriteLine($"restore benchmark: one tenant of about {megabytes:0} MB, {rounds} rounds, load average {Timing.Load()}");

        await using var site = await ScratchSite.StartAsync("127.0.0.81", cancellation);
        var tenant = new Tenant(TenantName, 1, megabytes / 1000);
        var sourceFiles = site.PathOf("source-files");
        var seedTime = await Timing.MeasureAsync(() => TenantSeed.SeedAsync(tenant, site.Address, site.Port, sourceFiles, 1.0, cancellation));
        var databaseBytes = await site.ScalarAsync<long>($"SELECT pg_database_size('{TenantName}')", cancellation);

        var backup = new TenantBackup(site.Repository, site.Postgres, site.Secrets, TimeProvider.System, site.Log);
        var backedUp = await backup.BackupTenantAsync(new TenantSite(tenant, site.Database(TenantName), sourceFiles), TenantBackup.NewRunId(TimeProvider.System), cancellation);
        if (!backedUp.Succeeded) throw new InvalidOperationException($"backup failed: {backedUp.Error}");
        var set = backedUp.Set!;
        var manifest = backedUp.Manifest!;
        Console.WriteLine($"seeded in {Timing.Seconds(seedTime)}: database {databaseBytes / 1e6:0} MB on disk ({manifest.Database.Tables.Sum(t => t.Rows)} rows), " +
                          $"dump {manifest.Database.DumpBytes / 1e6:0.0} MB, {manifest.Files.Count} files of {manifest.Files.Bytes / 1e6:0.0} MB; backed up in {Timing.Seconds(backedUp.Duration)}");
        // Selecting the restore point (restic check, manifest) happens once per failover, before any
        // tenant is restored: it is not part of restoring one snapshot, so it is done here, untimed.
        var point = new RestorePoint(set, manifest);
        var restore = new TenantRestore(site.Repository, site.Postgres, new RestoreHooks(site.Secrets), site.Secrets, site.Log);

        var ours = new List<double>();
        var raw = new List<double>();
        var verify = new List<double>();
        Console.WriteLine();
        Console.WriteLine("round  order       ours (TenantRestore)  raw (restic restore + pg_restore)  verification alone");
        for (var round = 1; round <= rounds; round++)
        {
            var oursFirst = round % 2 == 1;
            var oursTarget = new TenantSite(tenant, site.Database($"ours_{round}"), site.PathOf($"ours-{round}"));
            var rawDatabase = $"raw_{round}";
            var rawDirectory = site.PathOf($"raw-{round}");
            double o = 0, r = 0;
            foreach (var side in oursFirst ? new[] { "ours", "raw" } : ["raw", "ours"])
            {
                if (side == "ours")
                    o = (await Timing.MeasureAsync(async () =>
                    {
                        var result = await restore.RestoreAsync(new TenantRestoreJob(oursTarget, point, RestoreOptions.Default), cancellation);
                        if (!result.Succeeded) throw new InvalidOperationException($"our restore failed: {result.Error ?? string.Join("; ", result.Coherence?.Differences ?? [])}");
                    })).TotalSeconds;
                else
                    r = (await Timing.MeasureAsync(() => RestoreByHandAsync(site, set, rawDatabase, rawDirectory, cancellation))).TotalSeconds;
            }
            // What verification costs on its own, on the copy ours just restored: the part of "ours" that "raw" does not do.
            var v = (await Timing.MeasureAsync(async () =>
            {
                var coherence = Coherence.Compare(manifest, await site.Postgres.TablesAsync(oursTarget.Database, cancellation), await FileTree.ScanAsync(oursTarget.FilesDirectory, cancellation));
                if (!coherence.IsCoherent) throw new InvalidOperationException("the restored copy is not coherent");
            })).TotalSeconds;
            await CheckByHandRestoreAsync(site, manifest, rawDatabase, Path.Combine(rawDirectory, "files"), cancellation);
            ours.Add(o); raw.Add(r); verify.Add(v);
            Console.WriteLine($"{round,5}  {(oursFirst ? "ours, raw" : "raw, ours"),-10}  {Timing.Seconds(o),20}  {Timing.Seconds(r),33}  {Timing.Seconds(v),18}");
            await site.DropAsync(oursTarget.Database.Name, oursTarget.FilesDirectory, cancellation);
            await site.DropAsync(rawDatabase, rawDirectory, cancellation);
        }

        var (mo, mr, mv) = (Timing.Median(ours), Timing.Median(raw), Timing.Median(verify));
        Console.WriteLine($"{"median",5}  {"",-10}  {Timing.Seconds(mo),20}  {Timing.Seconds(mr),33}  {Timing.Seconds(mv),18}");
        Console.WriteLine();
        Console.WriteLine("ours = TenantRestore: target database created, restic dump streamed into pg_restore --single-transaction,");
        Console.WriteLine("       files restored, then VERIFIED: every table's row count and hash checksum (a full scan of each table)");
        Console.WriteLine("       and every file's SHA-256 compared with the backup's manifest.");
        Console.WriteLine("raw  = by hand: restic restore of the dump and of the files, createdb, pg_restore (same flags) from the file.");
        Console.WriteLine("       Nothing is verified; the dump file is left in the scratch folder.");
        Console.WriteLine($"ours without its verification ≈ {Timing.Seconds(mo - mv)}: ratio {(mo - mv) / mr:0.00} (pipeline alone)");
        Console.WriteLine($"load average now {Timing.Load()}");
        var verdict = new Verdict(mo / mr, 1.10);
        if (!verdict.Passed)
            Console.WriteLine($"over target: the verification pass ({Timing.Seconds(mv)}, {mv / mr:P0} of raw) re-reads every row of the restored database; " +
                              "that is the price of proving the copy matches the backup, not pipeline overhead.");
        verdict.Print();
        return verdict;
    }

    /// <summary>What an operator types: two restic restores, createdb, pg_restore from the restored file.</summary>
    private static async Task RestoreByHandAsync(ScratchSite site, BackupSet set, string database, string directory, CancellationToken cancellation)
    {
        var scratch = Path.Combine(directory, "dump");
        await ScratchSite.RunAsync(site.Restic("restore", set.Database!.Id, "--target", scratch), cancellation);
        await ScratchSite.RunAsync(site.Restic("restore", set.Files!.Id, "--target", Path.Combine(directory, "files")), cancellation);
        await ScratchSite.RunAsync(site.PostgresTool("createdb", database), cancellation);
        await ScratchSite.RunAsync(site.PostgresTool("pg_restore", "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error",
            "--dbname", database, Path.Combine(scratch, TenantName + ".dump")), cancellation);
    }

    /// <summary>Untimed: the by-hand copy must hold the same data, or the comparison would be meaningless.</summary>
    private static async Task CheckByHandRestoreAsync(ScratchSite site, Manifest manifest, string database, string files, CancellationToken cancellation)
    {
        foreach (var table in manifest.Database.Tables)
        {
            var rows = await site.ScalarAsync<long>($"SELECT count(*) FROM \"{table.Schema}\".\"{table.Name}\"", cancellation, database);
            if (rows != table.Rows) throw new InvalidOperationException($"the by-hand restore has {rows} rows in {table.Name}, the backup {table.Rows}");
        }
        var count = Directory.EnumerateFiles(files, "*", SearchOption.AllDirectories).Count();
        if (count != manifest.Files.Count) throw new InvalidOperationException($"the by-hand restore has {count} files, the backup {manifest.Files.Count}");
    }
}
