using System.Text.Json;
using System.Text.Json.Nodes;

namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>Everything the stand-in remembers between calls, kept as JSON in the folder named by PULUMI_STANDIN_STATE.</summary>
public sealed class State
{
    public string? Current { get; set; }
    public SortedDictionary<string, StackRecord> Stacks { get; set; } = new(StringComparer.Ordinal);
    /// <summary>How many times each script rule (by index) has fired.</summary>
    public Dictionary<string, int> RuleUses { get; set; } = [];

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static State Load(string folder)
    {
        var file = Path.Combine(folder, "state.json");
        return File.Exists(file) ? JsonSerializer.Deserialize<State>(File.ReadAllText(file), Options)! : new State();
    }

    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, "state.json");
        File.WriteAllText(file + ".tmp", JsonSerializer.Serialize(this, Options));
        File.Move(file + ".tmp", file, overwrite: true);
    }
}

/// <summary>One stack: its config and outputs (secret leaves wrapped as {"$secret": value}), resources and history.</summary>
public sealed class StackRecord
{
    public SortedDictionary<string, JsonNode?> Config { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, JsonNode?> Outputs { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Resources besides the root stack, as "type::name".</summary>
    public List<string> Resources { get; set; } = [];
    public bool HasStackResource { get; set; }
    public string? Passphrase { get; set; }
    public DateTimeOffset? LastUpdate { get; set; }
    public List<JsonObject> History { get; set; } = [];
}

/// <summary>Secret leaves in config and outputs: how they are stored, shown masked and revealed.</summary>
public static class Secrets
{
    public const string Marker = "$secret";

    public static JsonObject Wrap(JsonNode? value) => new() { [Marker] = value?.DeepClone() };

    public static bool IsSecret(JsonNode? node) => node is JsonObject o && o.Count == 1 && o.ContainsKey(Marker);

    public static bool Contains(JsonNode? node) => IsSecret(node) || node switch
    {
        JsonObject o => o.Any(p => Contains(p.Value)),
        JsonArray a => a.Any(Contains),
        _ => false,
    };

    /// <summary>The value with secrets replaced by <paramref name="mask"/> (null: revealed) at the depth where they sit.</summary>
    public static JsonNode? Render(JsonNode? node, Func<JsonNode?>? mask) => node switch
    {
        _ when IsSecret(node) => mask is null ? Render(((JsonObject)node!)[Marker], null) : mask(),
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Render(p.Value, mask)))),
        JsonArray a => new JsonArray(a.Select(e => Render(e, mask)).ToArray()),
        _ => node?.DeepClone(),
    };

    /// <summary>How the engine blinds a secret in event-log resource state.</summary>
    public static JsonNode Blinded() => new JsonObject
    {
        ["4dabf18193072939515e22adb298388d"] = "1b47061264138c4ac30d75fd1eb44270",
        ["ciphertext"] = "[secret]",
    };
}
