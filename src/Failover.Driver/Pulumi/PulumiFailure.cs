using System.Text.RegularExpressions;

namespace Failover.Driver.Pulumi;

/// <summary>What kind of failure a CLI run was, told apart from its stderr as the Automation API does.</summary>
public enum PulumiFailureKind
{
    /// <summary>Any other non-zero exit.</summary>
    Failed,
    /// <summary>`no stack named 'X' found`.</summary>
    StackNotFound,
    /// <summary>`stack 'X' already exists`.</summary>
    StackAlreadyExists,
    /// <summary>Another update holds the stack (Pulumi Cloud 409 or a DIY backend lock); worth retrying.</summary>
    ConcurrentUpdate,
}

/// <summary>
/// A pulumi command exited non-zero; the message is worded as every tool failure is (<see cref="Engine.ToolFailure"/>):
/// the command, the stack, the exit code, the CLI's own `error:` text with secrets redacted, and what to do.
/// </summary>
public sealed class PulumiCommandException(string command, string stack, PulumiFailureKind kind, int exitCode, string error)
    : Exception(new Engine.ToolFailure($"pulumi {command}", $"for stack '{stack}'", $"exit {exitCode}", error.TrimEnd().TrimEnd('.'), Remedy(command, stack, kind)).Message)
{
    public string Command { get; } = command;
    public string Stack { get; } = stack;
    public PulumiFailureKind Kind { get; } = kind;
    public int ExitCode { get; } = exitCode;
    /// <summary>The CLI's error text without the `error: ` prefix (redacted).</summary>
    public string Error { get; } = error;
    public bool IsTransient => Kind == PulumiFailureKind.ConcurrentUpdate;

    private static string Remedy(string command, string stack, PulumiFailureKind kind) => kind switch
    {
        PulumiFailureKind.StackNotFound => $"Check the stack name, or create the stack (`pulumi stack init {stack}`) and deploy it",
        PulumiFailureKind.StackAlreadyExists => $"Select the existing stack (`pulumi stack select {stack}`) instead of creating it",
        PulumiFailureKind.ConcurrentUpdate => $"Wait for the other update to finish; if none runs, `pulumi cancel --stack {stack}` frees the stack, then run the command again",
        _ when command is "up" or "destroy" or "refresh" => $"Fix the cause above (`pulumi preview --stack {stack}` shows it without changing anything), then run the command again",
        _ => "Fix the cause above, then run the command again",
    };
}

/// <summary>A pulumi command ran longer than its time limit and was stopped, with every process it started.</summary>
public sealed class PulumiTimeoutException(string command, string stack, TimeSpan limit)
    : TimeoutException($"pulumi {command} for stack '{stack}' did not finish within {limit}; it was stopped." +
        (command is "up" or "destroy"
            ? $" The stack may stay locked: run `pulumi cancel --stack {stack}` once nothing else is updating it."
            : ""))
{
    public string Command { get; } = command;
    public TimeSpan Limit { get; } = limit;
}

/// <summary>The pulumi executable cannot be found or started.</summary>
public sealed class PulumiNotFoundException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads a failed run's stderr the way Pulumi's Automation API does (stderr text only, never the exit code).</summary>
public static partial class PulumiErrors
{
    private const string CloudConflict = "[409] Conflict: Another update is currently in progress.";
    private const string BackendLock = "the stack is currently locked by";

    [GeneratedRegex("no stack named.*found")]
    private static partial Regex NotFound();

    [GeneratedRegex("stack.*already exists")]
    private static partial Regex AlreadyExists();

    [GeneratedRegex("configuration key '.*' not found for stack")]
    private static partial Regex MissingConfigKey();

    /// <summary>The same tests in the same order as the .NET and Go Automation APIs.</summary>
    public static PulumiFailureKind Classify(string stderr) =>
        NotFound().IsMatch(stderr) ? PulumiFailureKind.StackNotFound
        : AlreadyExists().IsMatch(stderr) ? PulumiFailureKind.StackAlreadyExists
        : stderr.Contains(CloudConflict, StringComparison.Ordinal) || stderr.Contains(BackendLock, StringComparison.Ordinal)
            ? PulumiFailureKind.ConcurrentUpdate
            : PulumiFailureKind.Failed;

    /// <summary>`config get` of a key the stack lacks; the adapter turns it into null rather than an error.</summary>
    internal static bool IsMissingConfigKey(string stderr) => MissingConfigKey().IsMatch(stderr);

    /// <summary>
    /// The CLI's message: the text of its `error:` lines (with their continuation lines), else the last
    /// non-empty stderr line, else a note that the cause is in the engine diagnostics.
    /// </summary>
    public static string Message(string stderr, int exitCode)
    {
        var lines = stderr.Replace("\r\n", "\n").Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        if (start >= 0)
        {
            var block = lines.Skip(start).TakeWhile(l => l.Length > 0 && !l.StartsWith("warning: ", StringComparison.Ordinal)).ToList();
            block[0] = block[0]["error: ".Length..];
            return string.Join('\n', block).TrimEnd();
        }
        var last = lines.LastOrDefault(l => !string.IsNullOrWhiteSpace(l));
        return last?.Trim() ?? $"exit code {exitCode} with no error text";
    }
}
