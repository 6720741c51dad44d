using Failover.Core.Backup;
using Failover.Driver.Logging;

namespace Failover.Driver.Backup;

/// <summary>One hook command's run: its stage (pre/post), exit code and output, kept for the report.</summary>
public sealed record HookOutcome(string Stage, string Command, int ExitCode, string Output)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// The one runner of a tenant's pre- and post-restore commands (e.g. database migrations) on sites the driver reaches,
/// as <see cref="HookContract"/> says for both executors: <c>bash -c</c>, a clean environment of the contract's
/// variables (FAILOVER_TENANT, FAILOVER_FILES_DIR, PGDATABASE, FAILOVER_REHEARSAL...) plus the target's libpq
/// connection variables, nothing of the driver's own environment, killed at the time limit.
/// Output is captured with secrets redacted, because it ends up in the report.
/// </summary>
public sealed class RestoreHooks(SecretRegistry secrets)
{
    /// <summary>Runs the commands in order and stops at the first that fails.</summary>
    public async Task<IReadOnlyList<HookOutcome>> RunAsync(string stage, IReadOnlyList<string> commands, TenantSite target, TimeSpan timeout, CancellationToken cancellation,
        bool rehearsal = false)
    {
        var outcomes = new List<HookOutcome>();
        foreach (var command in commands)
        {
            var outcome = await RunOneAsync(stage, command, target, timeout, cancellation, rehearsal);
            outcomes.Add(outcome);
            if (!outcome.Succeeded) break;
        }
        return outcomes;
    }

    private static string Home => Environment.GetEnvironmentVariable("HOME") ?? "/root";

    /// <summary>The exit code of a hook killed at its time limit.</summary>
    public const int KilledExitCode = -1;

    /// <param name="marker">Set as FAILOVER_HOOK_EFFECT in the hook's environment, which every process it starts inherits: how a later run finds what a killed one left running.</param>
    public async Task<HookOutcome> RunOneAsync(string stage, string command, TenantSite target, TimeSpan timeout, CancellationToken cancellation,
        bool rehearsal = false, string? marker = null)
    {
        var environment = HookContract.Environment(target.Tenant.Name, target.FilesDirectory, target.Database.Name, HookContract.RehearsalFlag(rehearsal), Home)
            .ToDictionary(v => v.Name, v => (string?)v.Value);
        foreach (var name in HookContract.ConnectionVariables)
            if (target.Database.Environment.TryGetValue(name, out var value) && value is not null) environment[name] = value;
        if (marker is not null) environment[HookLeftovers.Variable] = marker;
        return await RunAsync(stage, command, environment, timeout, cancellation);
    }

    /// <summary>
    /// Runs one command as every hook runs (a site's migration freeze, thaw and backup commands too): <c>bash -c</c> in a
    /// clean environment of exactly <paramref name="environment"/> over <see cref="HookContract.Base"/>, killed at the time
    /// limit (exit code <see cref="KilledExitCode"/>), its output redacted.
    /// </summary>
    public async Task<HookOutcome> RunAsync(string stage, string command, IReadOnlyDictionary<string, string?> variables, TimeSpan timeout, CancellationToken cancellation)
    {
        var environment = HookContract.Base(Home).ToDictionary(v => v.Name, v => (string?)v.Value);
        foreach (var (name, value) in variables) environment[name] = value;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            var call = new ProgramCall(HookContract.Shell, HookContract.Arguments(command), environment) { CleanEnvironment = true };
            var result = await ChildProcess.RunAsync(call, limit.Token);
            return new HookOutcome(stage, command, result.ExitCode, secrets.Redact((result.StandardOutput + result.StandardError).Trim()));
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new HookOutcome(stage, command, KilledExitCode, RestoreFindings.HookKilled(((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>The verdict of a hook step from its outcome, in the words the bash executor uses.</summary>
    public static StepVerdict Verdict(RestoreStep step, HookOutcome outcome, TimeSpan timeout) =>
        outcome.Succeeded ? StepVerdict.Pass(step)
        : StepVerdict.Fail(step, outcome.ExitCode == KilledExitCode
            ? RestoreFindings.HookKilled(((int)timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture))
            : RestoreFindings.HookExited(outcome.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}

/// <summary>
/// Finds the processes a hook left behind (its shell killed with the driver, what it started still running) by the
/// marker in their environment, and kills them: a hook must not run twice at once for the same tenant.
/// </summary>
public static class HookLeftovers
{
    public const string Variable = "FAILOVER_HOOK_EFFECT";

    /// <summary>Kills every process whose environment carries this marker and waits until none is left (at most a minute).</summary>
    public static async Task<int> KillAsync(string marker, CancellationToken cancellation)
    {
        if (!Directory.Exists("/proc")) return 0;
        var killed = 0;
        for (var round = 0; round < 600; round++)
        {
            var found = Carrying($"{Variable}={marker}");
            if (found.Count == 0) return killed;
            foreach (var pid in found)
            {
                try { using var p = System.Diagnostics.Process.GetProcessById(pid); p.Kill(entireProcessTree: true); killed++; }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
            }
            await Task.Delay(100, cancellation);
        }
        throw new InvalidOperationException($"processes of the hook {marker} are still running after being killed; stop them, then `failover resume`");
    }

    /// <summary>The processes (other than this one) whose environment holds exactly <paramref name="variable"/> (NAME=value).</summary>
    internal static IReadOnlyList<int> Carrying(string variable)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(variable + "\0");
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            byte[] environ;
            try { environ = File.ReadAllBytes(Path.Combine(dir, "environ")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            // A zombie has an empty environment; a match must be a whole variable (after a NUL or at the start).
            var at = environ.AsSpan().IndexOf(needle);
            if (at == 0 || (at > 0 && environ[at - 1] == 0)) found.Add(pid);
        }
        return found;
    }
}
