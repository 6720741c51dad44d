using Failover.Benchmarks;

// One program, one subcommand per comparison; each prints a table and ends with a "ratio:" line.
var usage = """
    usage: dotnet run -c Release --project benchmarks/Failover.Benchmarks -- <benchmark> [options]

      restore    [--mb 300] [--rounds 3]          TenantRestore against restic restore + pg_restore by hand, same snapshot
      scheduler  [--scale 0.001] [--rounds 1] [--link KiB/s | --unlimited] [--model-only]
                                                  RestoreSchedule (tier, smallest first, 3 at a time) against one at a
                                                  time in declared order: the estimate model, then measured on a scaled fleet
      drill      [--scale 0.05] [--rounds 1]      RTO of `failover drill` against the sum of its unavoidable parts
      booted-restore [--scale 0.01] [--rounds 3] [--tenant contoso]
                                                  a tenant's restore inside a booted cloud server (after `failover drill
                                                  --stacks infra/stacks --keep`): the rendered recipe against restic
                                                  restore + pg_restore by hand in the same server (root)

    Exit code 0 when the ratio meets its target, 1 when it does not, 2 on a usage error.
    """;
if (args.Length == 0 || args[0] is "-h" or "--help") { Console.WriteLine(usage); return args.Length == 0 ? 2 : 0; }
var options = BenchOptions.Parse(args.Skip(1).ToArray());
using var cancel = new CancellationTokenSource();
// Ctrl+C and kill both cancel, so the scratch cluster is stopped and its folder removed on the way out.
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
try
{
    var verdict = args[0] switch
    {
        "restore" => await RestoreBenchmark.RunAsync(options, cancel.Token),
        "scheduler" => await SchedulerBenchmark.RunAsync(options, cancel.Token),
        "drill" => await DrillBenchmark.RunAsync(options, cancel.Token),
        "booted-restore" => await BootedRestoreBenchmark.RunAsync(options, cancel.Token),
        _ => null,
    };
    if (verdict is null) { Console.Error.WriteLine($"unknown benchmark {args[0]}\n{usage}"); return 2; }
    return verdict.Passed ? 0 : 1;
}
catch (ArgumentException e) { Console.Error.WriteLine($"error: {e.Message}\n{usage}"); return 2; }
catch (OperationCanceledException) { Console.Error.WriteLine("interrupted"); return 130; }
