using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Failover.Driver.Reports;

/// <summary>The JSON settings of every machine-readable output: camelCase, enums as lower-case strings.</summary>
public static class Json
{
    /// <summary>
    /// The version of every document `--json` prints (docs/cli.md#json-output). Raised when a field is removed or
    /// changes meaning; adding a field keeps it.
    /// </summary>
    public const int SchemaVersion = 1;

    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static string Serialize(object value) => JsonSerializer.Serialize(value, Options);

    /// <summary>A top-level document: schemaVersion and kind first, then the fields of <paramref name="value"/>.</summary>
    public static string Document(string kind, object value)
    {
        var body = JsonSerializer.SerializeToNode(value, Options) as JsonObject
            ?? throw new ArgumentException("a JSON document is an object", nameof(value));
        var doc = new JsonObject { ["schemaVersion"] = SchemaVersion, ["kind"] = kind };
        foreach (var (name, node) in body.ToList())
        {
            body.Remove(name);
            doc[name] = node;
        }
        return doc.ToJsonString(Options);
    }
}
