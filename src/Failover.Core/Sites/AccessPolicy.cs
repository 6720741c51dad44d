using System.Text.Json;
using System.Text.Json.Nodes;

namespace Failover.Core.Sites;

/// <summary>One IAM policy statement: allow or deny actions on resources (or on all but some resources).</summary>
public sealed record PolicyStatement(
    string Sid, bool Allow, IReadOnlyList<string> Actions, IReadOnlyList<string> Resources, IReadOnlyList<string>? NotResources = null);

/// <summary>
/// An IAM identity policy as data, with the evaluation rule AWS applies (an explicit deny beats any allow;
/// nothing is allowed unless a statement allows it), so tests can ask what a credential may do.
/// </summary>
public sealed record AccessPolicy(IReadOnlyList<PolicyStatement> Statements)
{
    public bool Permits(string action, string resource)
    {
        var matching = Statements.Where(s => s.Actions.Any(a => Matches(a, action)) && Covers(s, resource)).ToList();
        return matching.Any(s => s.Allow) && !matching.Any(s => !s.Allow);
    }

    public bool ExplicitlyDenies(string action, string resource) =>
        Statements.Any(s => !s.Allow && s.Actions.Any(a => Matches(a, action)) && Covers(s, resource));

    public string ToJson()
    {
        var statements = new JsonArray();
        foreach (var s in Statements)
        {
            var node = new JsonObject
            {
                ["Sid"] = s.Sid,
                ["Effect"] = s.Allow ? "Allow" : "Deny",
                ["Action"] = new JsonArray(s.Actions.Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
            };
            if (s.NotResources is { } not) node["NotResource"] = new JsonArray(not.Select(r => (JsonNode)JsonValue.Create(r)!).ToArray());
            else node["Resource"] = new JsonArray(s.Resources.Select(r => (JsonNode)JsonValue.Create(r)!).ToArray());
            statements.Add(node);
        }
        return new JsonObject { ["Version"] = "2012-10-17", ["Statement"] = statements }.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    private static bool Covers(PolicyStatement s, string resource) =>
        s.NotResources is { } not ? !not.Any(r => Matches(r, resource)) : s.Resources.Any(r => Matches(r, resource));

    /// <summary>IAM wildcard matching: <c>*</c> any run of characters, <c>?</c> one character, case-insensitive.</summary>
    internal static bool Matches(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(value[v]))) { p++; v++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = v; }
            else if (star >= 0) { p = star + 1; v = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
