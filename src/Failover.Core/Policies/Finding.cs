namespace Failover.Core.Policies;

/// <summary>How bad a finding is: errors fail `failover plan` so they can gate a pull request.</summary>
public enum Severity { Info, Warning, Error }

/// <summary>A policy that fired: which rule, how bad, where, why it matters and how to fix it.</summary>
public sealed record Finding(
    string PolicyId,
    Severity Severity,
    IReadOnlyList<string> Stacks,
    string Message,
    string Explanation,
    string Fix,
    string? AcceptedBecause = null);

/// <summary>A rule about the topology, with a stable id that findings, docs and accept-lists refer to.</summary>
public sealed record Policy(string Id, Severity Severity, string Title, string Explanation, string Fix)
{
    public Finding Fire(string message, params string[] stacks) => new(Id, Severity, stacks, message, Explanation, Fix);
    public Finding FireWithFix(string message, string fix, params string[] stacks) => new(Id, Severity, stacks, message, Explanation, fix);
}
