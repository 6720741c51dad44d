using System.Globalization;
using Failover.Driver.Logging;

namespace Failover.Driver.Engine;

/// <summary>
/// How the driver words the failure of an external tool it runs (restic, pg_dump/pg_restore, pulumi, the PowerDNS API,
/// a site's bash commands), the same for every tool so an operator reads each the same way:
/// <c>TOOL failed DOING (exit N): LAST ERROR LINE. WHAT TO DO</c>, with every known secret redacted.
/// </summary>
/// <param name="Tool">The tool and its command, as an operator would type it: <c>restic restore</c>, <c>pulumi up</c>.</param>
/// <param name="Doing">What it was doing and for which tenant or site: <c>restoring tenant contoso</c>, <c>for stack 'standby-hel1'</c>.</param>
/// <param name="Exit">How it ended: <c>exit 3</c>, <c>HTTP 422</c>, <c>stopped at its time limit of 30 s</c>.</param>
/// <param name="LastLine">The last meaningful line of its error output (<see cref="LastMeaningfulLine"/>), redacted.</param>
/// <param name="Remedy">What the operator does next.</param>
public sealed record ToolFailure(string Tool, string Doing, string Exit, string LastLine, string Remedy)
{
    /// <summary>The sentence shown to the operator, logged and journaled.</summary>
    public string Message => $"{Tool} failed {Doing} ({Exit}): {LastLine}. {Remedy}".TrimEnd();

    public override string ToString() => Message;

    /// <summary>A tool that exited non-zero; <paramref name="errorOutput"/> is its stderr (or its output, for a hook), read for its last meaningful line.</summary>
    public static ToolFailure Exited(string tool, string doing, int exitCode, string errorOutput, string remedy, SecretRegistry? secrets = null) =>
        new(tool, doing, "exit " + exitCode.ToString(CultureInfo.InvariantCulture), Redact(LastMeaningfulLine(errorOutput), secrets), remedy);

    /// <summary>A tool stopped because it ran past its time limit.</summary>
    public static ToolFailure TimedOut(string tool, string doing, TimeSpan limit, string errorOutput, string remedy, SecretRegistry? secrets = null) =>
        new(tool, doing, $"stopped at its time limit of {Failover.Core.Topology.Durations.Format(limit)}", Redact(LastMeaningfulLine(errorOutput), secrets), remedy);

    /// <summary>An HTTP API that answered with an error status; <paramref name="body"/> is its answer.</summary>
    public static ToolFailure Answered(string tool, string doing, int status, string body, string remedy, SecretRegistry? secrets = null) =>
        new(tool, doing, "HTTP " + status.ToString(CultureInfo.InvariantCulture), Redact(LastMeaningfulLine(body), secrets), remedy);

    /// <summary>
    /// The line of a tool's error output that says what went wrong: the last line that begins as an error
    /// ("pg_restore: error: …", "Fatal: …", "ERROR: …"), else the last naming an error, else the last line that is not JSON or
    /// a progress bar; "(no error output)" when there is none. pg_restore's "Command was:" and the SQL it echoes after it
    /// are never that line (a column named last_error is no error). Without a trailing full stop (the sentence adds one).
    /// </summary>
    public static string LastMeaningfulLine(string output)
    {
        var lines = new List<string>();
        var echoingSql = false;
        foreach (var l in output.Replace("\r\n", "\n").Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (l.StartsWith("Command was:", StringComparison.Ordinal)) { echoingSql = true; continue; }
            // The echoed statement ends where the tool speaks again ("pg_restore: …", "WARNING: …").
            if (echoingSql && !ToolSpeaks.IsMatch(l)) continue;
            echoingSql = false;
            if (l.Length > 0 && l[0] is not ('{' or '[')) lines.Add(l);
        }
        var line = lines.LastOrDefault(l => BeginsAsError.IsMatch(l))
                   ?? lines.LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))
                   ?? lines.LastOrDefault();
        return line is null ? "(no error output)" : line.TrimEnd('.');
    }

    private static readonly System.Text.RegularExpressions.Regex ToolSpeaks = new(@"^[A-Za-z][\w.-]*: ");
    private static readonly System.Text.RegularExpressions.Regex BeginsAsError =
        new(@"^([\w.-]+: )?(error|fatal|panic)\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    private static string Redact(string text, SecretRegistry? secrets) => secrets?.Redact(text) ?? text;
}

/// <summary>An external tool failed; its message is the <see cref="ToolFailure"/> sentence.</summary>
public class ToolFailureException(ToolFailure failure, Exception? inner = null) : InvalidOperationException(failure.Message, inner)
{
    public ToolFailure Failure { get; } = failure;
}
