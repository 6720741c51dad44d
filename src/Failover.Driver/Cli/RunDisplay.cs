using System.Collections.Concurrent;
using Failover.Core.Backup;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Spectre.Console;

namespace Failover.Driver.Cli;

/// <summary>
/// What the operator sees while a run works: its lines, the step being run, each tenant's restore progress.
/// On a terminal a live Spectre.Console display; without one (a pipe, a log file, CI, NO_COLOR, --json) plain lines.
/// </summary>
internal abstract class RunDisplay : IStepObserver
{
    /// <summary>A terminal display when <paramref name="console"/> is an interactive terminal that allows colour, else plain lines.</summary>
    public static RunDisplay For(TextWriter stdout, Func<string, string?> variable, IAnsiConsole? console) =>
        console is not null && string.IsNullOrEmpty(variable("NO_COLOR")) && variable("TERM") is not (null or "" or "dumb")
            ? new TerminalDisplay(console)
            : new PlainDisplay(stdout);

    public abstract void Line(string text);

    public abstract void StepStarted(string step);

    public abstract void StepEnded(string step);

    public abstract void Transfer(TransferProgress progress);
}

/// <summary>Plain lines: a tenant's progress at most every few seconds, and when it ends.</summary>
internal sealed class PlainDisplay(TextWriter stdout) : RunDisplay
{
    // How often a log file gets a tenant's progress line: a display cadence, not a time limit (no runtime option).
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, TimeSpan?> _last = new(); // null once its last line was printed

    public override void Line(string text)
    {
        lock (stdout) stdout.Write(text);
    }

    public override void StepStarted(string step) { }

    public override void StepEnded(string step) => _last.Clear();

    public override void Transfer(TransferProgress p)
    {
        if (_last.TryGetValue(p.Tenant, out var last))
        {
            if (last is null || (!p.Finished && p.Elapsed - last.Value < Every)) return;
        }
        else if (!p.Finished && p.Elapsed < Every) { _last[p.Tenant] = TimeSpan.Zero; return; }
        _last[p.Tenant] = p.Finished ? null : p.Elapsed;
        Line($"    {p.Describe()}\n");
    }
}

/// <summary>
/// A live display per step: a spinner with the step's elapsed time and a bar per tenant with bytes, rate and ETA.
/// Spectre's live display is not thread-safe, so lines and progress from the step's threads are queued and drawn
/// by the display's own loop. Rate and ETA come from the transfer itself (bytes over its elapsed time), not from
/// Spectre's speed column, which needs several samples seconds apart and stays blank for a restore that moves in
/// a few large jumps (files are counted once restic ends). A finished tenant stays on screen until the step ends.
/// </summary>
internal sealed class TerminalDisplay(IAnsiConsole console) : RunDisplay
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentDictionary<string, TransferProgress> _tenants = new();
    private CancellationTokenSource? _stop;
    private Task? _live;

    public override void Line(string text)
    {
        if (_live is null) Write(text);
        else _lines.Enqueue(text);
    }

    private void Write(string text)
    {
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            var coloured = Colour(line);
            // Outside a live display plain text goes out as it is: Spectre would wrap it at the terminal's width.
            if (_live is null && coloured == Markup.Escape(line)) console.Profile.Out.Writer.WriteLine(line);
            else console.MarkupLine(coloured);
        }
    }

    internal static string Colour(string line)
    {
        var escaped = Markup.Escape(line);
        return line.Contains(" FAILED", StringComparison.Ordinal) || line.StartsWith("error", StringComparison.Ordinal) ? $"[red]{escaped}[/]"
            : line.StartsWith("warning", StringComparison.Ordinal) || line.Contains(" paused:", StringComparison.Ordinal) ? $"[yellow]{escaped}[/]"
            : line.Contains(" ok: ", StringComparison.Ordinal) ? $"[green]{escaped}[/]"
            : escaped;
    }

    public override void StepStarted(string step)
    {
        _stop = new CancellationTokenSource();
        var stop = _stop.Token;
        _tenants.Clear();
        _live = console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new DownloadedColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var running = ctx.AddTask($"{step} running", maxValue: 1).IsIndeterminate();
                var bars = new Dictionary<string, ProgressTask>();
                while (true)
                {
                    var stopping = stop.IsCancellationRequested;
                    while (_lines.TryDequeue(out var text)) Write(text);
                    foreach (var (tenant, p) in _tenants)
                    {
                        if (!bars.TryGetValue(tenant, out var bar)) bars[tenant] = bar = ctx.AddTask(Describe(p), maxValue: Math.Max(1, p.Total));
                        bar.Description = Describe(p);
                        bar.Value = p.Done;
                    }
                    if (stopping) { ctx.Refresh(); break; } // the last state is drawn once even if the step ended within a frame
                    try { await Task.Delay(150, stop); } catch (OperationCanceledException) { }
                }
                running.StopTask();
            });
    }

    public override void StepEnded(string step)
    {
        if (_live is null) return;
        _stop!.Cancel();
        _live.GetAwaiter().GetResult();
        _live = null;
        while (_lines.TryDequeue(out var text)) Write(text);
    }

    public override void Transfer(TransferProgress progress) => _tenants[progress.Tenant] = progress;

    /// <summary>"  contoso  3.1 MB/s  ETA 9s": the bar, bytes and elapsed time are columns of their own.</summary>
    internal static string Describe(TransferProgress p) =>
        Markup.Escape($"  {p.Tenant}  {TransferProgress.Bytes((long)p.Rate)}/s  " +
            (p.Finished ? "done" : p.Eta is { } eta ? $"ETA {Durations.Format(eta)}" : "ETA n/a"));
}
