namespace Failover.Core.Topology;

/// <summary>One problem in the stack files: where it is, what is wrong and how to fix it.</summary>
public sealed record TopologyProblem(string File, string Key, int? Line, string Message, string Fix)
{
    /// <remarks>Keys and messages may quote what a file holds: control characters are shown as \uXXXX, so no file can forge lines of output.</remarks>
    public override string ToString() =>
        ConfigNode.Printable($"{File}{(Line is { } l ? $":{l}" : "")}: {Key}: {Message}") + (Fix.Length > 0 ? $"\n    fix: {ConfigNode.Printable(Fix)}" : "");
}

/// <summary>The stack files cannot be used as they are; nothing was changed.</summary>
public sealed class TopologyException(IReadOnlyList<TopologyProblem> problems)
    : Exception(string.Join("\n", problems.Select(p => p.ToString())))
{
    public IReadOnlyList<TopologyProblem> Problems { get; } = problems;

    public TopologyException(TopologyProblem problem) : this([problem]) { }
}
