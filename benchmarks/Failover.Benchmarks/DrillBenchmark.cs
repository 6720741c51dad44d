using System.Text.Json.Nodes;
using Failover.Driver.Cli;

namespace Failover.Benchmarks;

/// <summary>
/// `drill`: runs `failover drill` in-process and compares the RTO it reports with the sum of the parts
/// no orchestration can avoid (restoring the data, the health gate, making DNS visible). The ratio is
/// what the rest of the run (assessing, selecting and verifying backups, provisioning, fencing, the
/// gaps between steps) costs on top.
/// </summary>
public static class DrillBenchmark
{
    private static readonly string[] Unavoidable = ["restore", "gate", "cutover"];

    public static async Task<Verdict> RunAsync(BenchOptions options, CancellationToken cancellation)
    {
        var scale = options.Number("--scale", 0.05);
        var rounds = Math.Max(1, options.Count("--rounds", 1));
        var root = RepositoryRoot();
        var stacks = Path.Combine(root, "examples", "local");
        var runs = Path.Combine(stacks, ".failover", "runs");
        var ratios = new List<double>();
        var rows = new List<string>();
        for (var round = 1; round <= rounds; round++)
        {
            cancellation.ThrowIfCancellationRequested();
            var before = Directory.Exists(runs) ? Directory.GetDirectories(runs).ToHashSet() : [];
            Console.WriteLine($"drill benchmark, round {round}: failover drill --stacks {stacks} --scale {scale} (load average {Timing.Load()})");
            // The drill blocks on its own async work; running it on the thread pool keeps Main responsive to Ctrl+C.
            var code = await Task.Run(() => new App(Console.Out, Console.Error, root).Run(["drill", "--stacks", stacks, "--scale", scale.ToString(System.Globalization.CultureInfo.InvariantCulture)]), cancellation);
            if (code != 0) throw new InvalidOperationException($"the drill failed (exit {code}); no figure to report");
            var run = Directory.GetDirectories(runs).Where(d => !before.Contains(d)).Order(StringComparer.Ordinal).LastOrDefault()
                ?? throw new InvalidOperationException($"the drill wrote no new run under {runs}");
            var report = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(run, "report.json"), cancellation))!;
            var rto = (double)report["rtoSeconds"]!;
            var steps = report["steps"]!.AsArray().Select(s => (Step: (string)s!["step"]!, Seconds: (double?)s["seconds"] ?? 0)).ToList();
            var parts = steps.Where(s => Unavoidable.Contains(s.Step)).Sum(s => s.Seconds);
            var stepTotal = steps.Where(s => s.Step != "report").Sum(s => s.Seconds);

            Console.WriteLine();
            Console.WriteLine($"report {Path.Combine(run, "report.json")}");
            Console.WriteLine($"  {"step",-20} {"window",10}   counted as");
            foreach (var (step, seconds) in steps)
                Console.WriteLine($"  {step,-20} {Timing.Seconds(seconds),10}   {(Unavoidable.Contains(step) ? "unavoidable part" : step == "report" ? "after the RTO (cutover visible)" : "orchestration")}");
            Console.WriteLine($"  {"between the steps",-20} {Timing.Seconds(rto - stepTotal),10}   orchestration (journal writes, step transitions)");
            Console.WriteLine($"  RTO (start to DNS visible) {Timing.Seconds(rto)}; sum of unavoidable parts (restore + gate + cutover) {Timing.Seconds(parts)}");
            ratios.Add(rto / parts);
            rows.Add($"  round {round}: RTO {Timing.Seconds(rto)}, parts {Timing.Seconds(parts)}, ratio {rto / parts:0.00}");
            Console.WriteLine();
        }
        foreach (var row in rows) Console.WriteLine(row);
        Console.WriteLine("The ratio is RTO / (restore + gate + cutover windows): 1.0 would mean the run spends no time on anything");
        Console.WriteLine("but restoring, gating and moving DNS. The rest is assess (is production really down), select-backup");
        Console.WriteLine("(restic check and reading every manifest: deliberate verification), provision (starting the standby's");
        Console.WriteLine("PostgreSQL), fence, and step transitions. At the drill's small scale (seconds of restore) these fixed");
        Console.WriteLine("costs weigh far more than in a real failover, where the restore step takes minutes to hours.");
        Console.WriteLine("Each restic command costs about a second here (it derives the repository key every time): select-backup");
        Console.WriteLine("runs one check plus one manifest read per tenant, one after the other.");
        var verdict = new Verdict(Timing.Median(ratios), 1.5);
        verdict.Print();
        return verdict;
    }

    /// <summary>The folder holding Failover.sln, found upwards from the current folder or from this program.</summary>
    internal static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Failover.sln"))) return d.FullName;
        throw new InvalidOperationException("run from inside the repository: Failover.sln was not found above the current folder");
    }
}
