using System.Diagnostics;
using System.Text.RegularExpressions;
using Failover.Driver.Composition;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>examples/local on 127.0.5.x, seeded larger than the other fixtures so that restores take a moment.</summary>
public sealed class TerminalTopology() : LocalTopology(0, "127.0.5.", scale: 0.1);

/// <summary>
/// What the operator sees while a failover runs: under a pseudo-terminal (`script`) the live display with the
/// running step and each tenant's bytes and rate; without a terminal, or with NO_COLOR, plain lines only.
/// </summary>
public class TerminalProgressTests(TerminalTopology site) : IClassFixture<TerminalTopology>
{
    internal static readonly Regex Escape = new("\u001b\\[[0-9;?]*[A-Za-z]");

    /// <summary>Colour and cursor movement; .NET's own terminal set-up (keypad mode, ESC[?1h) is neither.</summary>
    private static readonly Regex Drawing = new("\u001b\\[[0-9;]*[mABCDJK]");

    /// <summary>Runs the real binary under `script`, which gives it a pseudo-terminal; returns what the terminal received.</summary>
    private (int Code, string Screen) UnderTerminal(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var command = string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "failover.dll") }.Concat(args).Select(a => $"'{a}'"));
        var psi = new ProcessStartInfo("script", ["-qec", command, "/dev/null"])
        {
            WorkingDirectory = site.Project, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        psi.Environment[RunPortsFactory.DnsApiKeyVariable] = site.ApiKey;
        psi.Environment["COLUMNS"] = "140";
        psi.Environment.Remove("NO_COLOR");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException("failover under script did not finish"); }
        return (p.ExitCode, output.Result);
    }

    [Fact]
    public async Task On_a_terminal_the_running_step_and_tenant_progress_are_drawn_live()
    {
        await site.ResetAsync();
        var (code, screen) = UnderTerminal(new Dictionary<string, string> { ["TERM"] = "xterm-256color" }, "run", "--to", "local-standby", "--yes");
        Assert.True(code == 0, screen);
        Assert.Matches(Escape, screen);                       // drawn, not printed
        Assert.Contains("restore running", screen);           // the step being run, with its elapsed time beside it
        Assert.Matches(new Regex(@"northwind +\d+(\.\d)? (KB|MB)/s"), Escape.Replace(screen, ""));
        Assert.Contains("\u001b[", screen[..screen.IndexOf("ok:", StringComparison.Ordinal)]);
        Assert.Contains("Recovered on local-standby", screen);
    }

    /// <remarks>Piped, without a terminal, the same plain lines: asserted on the piped failover of
    /// CrashInjectionTests.Two_failovers_started_at_once_one_refuses_naming_the_owner (the same binary and printer).</remarks>
    [Fact]
    public async Task With_NO_COLOR_on_a_terminal_the_run_prints_plain_lines()
    {
        await site.ResetAsync();
        var (code, screen) = UnderTerminal(new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["NO_COLOR"] = "1" }, "run", "--to", "local-standby", "--yes");
        Assert.True(code == 0, screen);
        Assert.DoesNotMatch(Drawing, screen);
        Assert.Contains("restore", screen);
        Assert.Contains("done in", screen);
    }
}
