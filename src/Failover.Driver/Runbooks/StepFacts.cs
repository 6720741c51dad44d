using System.Globalization;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Driver.Engine;

namespace Failover.Driver.Runbooks;

/// <summary>
/// The typed facts steps hand to later ones and to the report. The journal keeps them as JSON under the step's name,
/// readable and exactly as journals before these types wrote them (so those still resume and report): each fact has
/// its one serializer and parser here, and neither a step nor the report parses another's JSON by hand.
/// </summary>
internal static class StepFacts
{
    /// <summary>A snapshot as journaled under its tenant's name: <c>{"id", "time", "bytes"}</c>.</summary>
    public static JsonObject Json(TenantSnapshot s) => new()
    {
        ["id"] = s.SnapshotId, ["time"] = Time(s.Time), ["bytes"] = s.Bytes,
    };

    /// <remarks>A fact built in memory may hold an int, one read from the journal a number: both read as long; none as 0.</remarks>
    public static TenantSnapshot Snapshot(string tenant, JsonNode json) =>
        new(tenant, (string)json["id"]!, At(json["time"]), json["bytes"] is { } bytes ? long.Parse(bytes.ToJsonString(), CultureInfo.InvariantCulture) : 0);

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
        ["addresses"] = Strings(a.Addresses),
        ["healthUrl"] = a.HealthUrl,
        ["outputs"] = a.Outputs.DeepClone(),
    };

    public static SiteAddress Site(JsonNode json) =>
        new(json["addresses"]!.AsArray().Select(a => (string)a!).ToList(), (string?)json["healthUrl"], json["outputs"]?.AsObject().DeepClone().AsObject() ?? new JsonObject());

    /// <summary>The facts a completed step handed on, by its kind; null when it has not completed (or handed nothing of that kind).</summary>
    public static T? Of<T>(IReadOnlyDictionary<string, JsonObject?> byStep, StepKind step, Func<JsonObject, T?> read) where T : class =>
        byStep.GetValueOrDefault(StepContext.Name(step)) is { } facts ? read(facts) : null;

    /// <inheritdoc cref="Of{T}(IReadOnlyDictionary{string, JsonObject?}, StepKind, Func{JsonObject, T})"/>
    public static T? Of<T>(JsonObject byStep, StepKind step, Func<JsonObject, T?> read) where T : class =>
        byStep[StepContext.Name(step)] is JsonObject facts ? read(facts) : null;

    internal static string Time(DateTimeOffset t) => t.ToString("O", CultureInfo.InvariantCulture);
    internal static DateTimeOffset At(JsonNode? n) => DateTimeOffset.Parse((string)n!, CultureInfo.InvariantCulture);
    internal static DateTimeOffset? AtOrNull(JsonNode? n) => n is null ? null : At(n);
    internal static JsonArray Strings(IEnumerable<string> values) => new(values.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray());
}

/// <summary>assess: whether the old primary still answered, and each tenant's latest snapshot (<c>{"productionServing", "latest"}</c>).</summary>
internal sealed record AssessFacts(bool ProductionServing, IReadOnlyList<TenantSnapshot> Latest)
{
    public JsonObject Json() => new() { ["productionServing"] = ProductionServing, ["latest"] = StepFacts.Json(Latest) };

    public static AssessFacts From(JsonObject json) =>
        new((bool?)json["productionServing"] == true, json["latest"] is JsonObject latest ? StepFacts.Snapshots(latest) : []);
}

/// <summary>
/// The snapshots a run restores, by tenant: select-backup's (each with the vault it came from where there are several)
/// and a migration's final-sync's. Journaled as <c>{"snapshots": {tenant: {"id", "time", "bytes", "vault"?}}}</c>.
/// </summary>
internal sealed record ChosenSnapshots(IReadOnlyList<TenantSnapshot> Snapshots, IReadOnlyDictionary<string, string> Vaults)
{
    public JsonObject Json() => new() { ["snapshots"] = SnapshotsJson() };

    public JsonObject SnapshotsJson()
    {
        var json = StepFacts.Json(Snapshots);
        foreach (var (tenant, vault) in Vaults) json[tenant]!["vault"] = vault;
        return json;
    }

    public static ChosenSnapshots From(JsonObject json)
    {
        var byTenant = json["snapshots"] as JsonObject ?? new JsonObject();
        return new(StepFacts.Snapshots(byTenant),
            byTenant.Where(kv => kv.Value?["vault"] is not null).ToDictionary(kv => kv.Key, kv => (string)kv.Value!["vault"]!));
    }
}

/// <summary>
/// One tenant's journaled restore: the restorer's verdict, its window, and the snapshot used when a damaged one was
/// replaced at restore time (<c>{"result", "start", "end", "snapshot"?}</c>).
/// </summary>
internal sealed record RestoredTenant(string? Result, DateTimeOffset? Start, DateTimeOffset? End, TenantSnapshot? Fallback)
{
    public JsonObject Json()
    {
        var json = new JsonObject { ["result"] = Result, ["start"] = Start is { } s ? StepFacts.Time(s) : null, ["end"] = End is { } e ? StepFacts.Time(e) : null };
        if (Fallback is not null) json["snapshot"] = StepFacts.Json(Fallback);
        return json;
    }

    public static RestoredTenant From(string tenant, JsonNode json) =>
        new((string?)json["result"], StepFacts.AtOrNull(json["start"]), StepFacts.AtOrNull(json["end"]),
            json["snapshot"] is JsonObject fallback ? StepFacts.Snapshot(tenant, fallback) : null);

    public static JsonObject Json(IReadOnlyDictionary<string, RestoredTenant> byTenant) =>
        new(byTenant.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value.Json())));

    public static Dictionary<string, RestoredTenant> From(JsonObject? byTenant) =>
        byTenant?.ToDictionary(kv => kv.Key, kv => From(kv.Key, kv.Value!)) ?? [];
}

/// <summary>restore: each tenant's restore (<c>{"tenants": {tenant: RestoredTenant}}</c>).</summary>
internal sealed record RestoreFacts(IReadOnlyDictionary<string, RestoredTenant> Tenants)
{
    public JsonObject Json() => new() { ["tenants"] = RestoredTenant.Json(Tenants) };
    public static RestoreFacts From(JsonObject json) => new(RestoredTenant.From(json["tenants"] as JsonObject));
}

/// <summary>cutover: when every authoritative server first answered the new addresses (<c>{"visibleAt", "addresses"}</c>).</summary>
internal sealed record CutoverFacts(DateTimeOffset VisibleAt, IReadOnlyList<string> Addresses)
{
    public JsonObject Json() => new() { ["visibleAt"] = StepFacts.Time(VisibleAt), ["addresses"] = StepFacts.Strings(Addresses) };

    public static CutoverFacts? From(JsonObject json) => json["visibleAt"] is { } at
        ? new(StepFacts.At(at), json["addresses"]?.AsArray().Select(a => (string)a!).ToList() ?? [])
        : null;
}

/// <summary>The journaled effect <c>ttl:lower</c>: when the TTL was lowered, from what, to what (<c>{"at", "oldTtl", "ttl"}</c>).</summary>
internal sealed record TtlLowered(DateTimeOffset At, int OldTtl, int Ttl)
{
    public JsonObject Json() => new() { ["at"] = StepFacts.Time(At), ["oldTtl"] = OldTtl, ["ttl"] = Ttl };
    public static TtlLowered From(JsonNode json) => new(StepFacts.At(json["at"]), (int)json["oldTtl"]!, (int)json["ttl"]!);
}

/// <summary>lower-ttl: the TTL while the migration runs, the old one, and when no resolver holds the old answer (<c>{"loweredAt", "oldTtl", "ttl", "safeFrom"}</c>).</summary>
internal sealed record LowerTtlFacts(DateTimeOffset LoweredAt, int OldTtl, int Ttl, DateTimeOffset SafeFrom)
{
    /// <summary>Whether the TTL was lowered, so the scale-down gives the records their old TTL back.</summary>
    public bool Lowered => Ttl < OldTtl;

    public JsonObject Json() => new() { ["loweredAt"] = StepFacts.Time(LoweredAt), ["oldTtl"] = OldTtl, ["ttl"] = Ttl, ["safeFrom"] = StepFacts.Time(SafeFrom) };

    public static LowerTtlFacts From(JsonObject json) =>
        new(StepFacts.At(json["loweredAt"]), (int)json["oldTtl"]!, (int)json["ttl"]!, StepFacts.At(json["safeFrom"]));
}

/// <summary>The journaled effect <c>freeze:SITE</c>: when writes stopped, and what the freeze said (<c>{"frozenAt", "said"}</c>).</summary>
internal sealed record Frozen(DateTimeOffset FrozenAt, string? Said)
{
    public JsonObject Json() => new() { ["frozenAt"] = StepFacts.Time(FrozenAt), ["said"] = Said };
    public static Frozen From(JsonNode json) => new(StepFacts.At(json["frozenAt"]), (string?)json["said"]);
}

/// <summary>freeze: when the source's writes stopped, the start of the downtime customers see (<c>{"frozenAt"}</c>).</summary>
internal sealed record FreezeFacts(DateTimeOffset FrozenAt)
{
    public JsonObject Json() => new() { ["frozenAt"] = StepFacts.Time(FrozenAt) };
    public static FreezeFacts From(JsonObject json) => new(StepFacts.At(json["frozenAt"]));
}

/// <summary>final-sync: the final backup's snapshots, each tenant's restore of them, and that they were verified (<c>{"snapshots", "tenants", "verified"}</c>).</summary>
internal sealed record FinalSyncFacts(ChosenSnapshots Snapshots, IReadOnlyDictionary<string, RestoredTenant> Tenants, bool Verified)
{
    public JsonObject Json() => new() { ["snapshots"] = Snapshots.SnapshotsJson(), ["tenants"] = RestoredTenant.Json(Tenants), ["verified"] = Verified };

    public static FinalSyncFacts From(JsonObject json) =>
        new(ChosenSnapshots.From(json), RestoredTenant.From(json["tenants"] as JsonObject), (bool?)json["verified"] == true);
}
