using System.Globalization;
using System.Text.Json.Nodes;

namespace Failover.Driver.Runbooks;

/// <summary>
/// The typed facts steps hand to later ones (the chosen snapshots, where the site answers). The journal keeps them as
/// JSON under the step's name, readable and as journals before these types wrote them (so those still resume): each
/// fact has its one serializer here, and no step parses another's JSON by hand.
/// </summary>
internal static class StepFacts
{
    /// <summary>A snapshot as journaled under its tenant's name: <c>{"id", "time", "bytes"}</c>.</summary>
    public static JsonObject Json(TenantSnapshot s) => new()
    {
        ["id"] = s.SnapshotId, ["time"] = s.Time.ToString("O", CultureInfo.InvariantCulture), ["bytes"] = s.Bytes,
    };

    public static TenantSnapshot Snapshot(string tenant, JsonNode json) =>
        new(tenant, (string)json["id"]!, DateTimeOffset.Parse((string)json["time"]!, CultureInfo.InvariantCulture), (long)json["bytes"]!);

    /// <summary>Snapshots by tenant: select-backup's and final-sync's <c>snapshots</c>, assess's <c>latest</c>.</summary>
    public static JsonObject Json(IEnumerable<TenantSnapshot> snapshots)
    {
        var json = new JsonObject();
        foreach (var s in snapshots) json[s.Tenant] = Json(s);
        return json;
    }

    public static List<TenantSnapshot> Snapshots(JsonObject byTenant) => byTenant.Select(kv => Snapshot(kv.Key, kv.Value!)).ToList();

    /// <summary>Where a site answers, as provision and locate journal it: <c>{"addresses", "healthUrl", "outputs"}</c>.</summary>
    public static JsonObject Json(SiteAddress a) => new()
    {
        ["addresses"] = new JsonArray(a.Addresses.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray()),
        ["healthUrl"] = a.HealthUrl,
        ["outputs"] = a.Outputs.DeepClone(),
    };

    public static SiteAddress Site(JsonNode json) =>
        new(json["addresses"]!.AsArray().Select(a => (string)a!).ToList(), (string?)json["healthUrl"], json["outputs"]?.AsObject().DeepClone().AsObject() ?? new JsonObject());
}
