namespace Failover.Driver.Engine;

/// <summary>
/// The journal's name for one side effect of a run (what <see cref="StepContext.Once"/> records and a resume matches), made
/// only by the factories below so no step can mistype another's key. The text is the journal's, unchanged from the keys
/// steps wrote as strings: old journals resume.
/// </summary>
public readonly record struct EffectKey
{
    private EffectKey(string value) => Value = value;

    /// <summary>The key as the journal writes it.</summary>
    public string Value { get; }

    public override string ToString() => Value;

    /// <summary>A chosen snapshot read back from the vault before anything is provisioned.</summary>
    public static EffectKey Verify(string tenant, string snapshotId) => new($"verify:{tenant}:{snapshotId}");
    /// <summary>The damaged snapshot's replacement, chosen once per run.</summary>
    public static EffectKey Fallback(string tenant, string damagedSnapshotId) => new($"fallback:{tenant}:{damagedSnapshotId}");
    /// <summary>The target site brought up at the mode a failover gives it.</summary>
    public static EffectKey Provision(string site) => new($"provision:{site}");
    /// <summary>A migration's target re-provisioned with the final backup's snapshots.</summary>
    public static EffectKey FinalProvision(string site) => new($"provision:final:{site}");
    /// <summary>A tenant restored onto the target from the snapshots select-backup chose.</summary>
    public static EffectKey Restore(string tenant) => new($"restore:{tenant}");
    /// <summary>A tenant restored onto a migration's target from the final backup taken during the freeze.</summary>
    public static EffectKey FinalRestore(string tenant) => new($"final-restore:{tenant}");
    /// <summary>A local restore's data (database and files) for one snapshot.</summary>
    public static EffectKey RestoreData(string tenant, string snapshotId) => new($"data:{tenant}:{snapshotId}");
    /// <summary>One of a tenant's restore hooks at its stage.</summary>
    public static EffectKey RestoreHook(string stage, string tenant, int? hook) => new($"hook:{stage}:{tenant}:{hook}");
    /// <summary>The old primary fenced.</summary>
    public static EffectKey Fence(string site) => new($"fence:{site}");
    /// <summary>A migration's target lifted out of its fence.</summary>
    public static EffectKey Unfence(string site) => new($"unfence:{site}");
    /// <summary>The service records pointed at the target.</summary>
    public static EffectKey DnsPoint { get; } = new("dns:point");
    /// <summary>The records' TTL lowered before a migration.</summary>
    public static EffectKey TtlLower { get; } = new("ttl:lower");
    /// <summary>The records' TTL put back after a migration.</summary>
    public static EffectKey TtlRestore { get; } = new("ttl:restore");
    /// <summary>The migration's source frozen by its hooks.</summary>
    public static EffectKey Freeze(string site) => new($"{FreezePrefix}{site}");
    /// <summary>The migration's source given its writes back.</summary>
    public static EffectKey Thaw(string site) => new($"{ThawPrefix}{site}");
    /// <summary>Whether a journaled effect is a freeze, of whichever site.</summary>
    public static bool IsFreeze(string? journaled) => journaled?.StartsWith(FreezePrefix, StringComparison.Ordinal) == true;
    /// <summary>Whether a journaled effect is a thaw, of whichever site.</summary>
    public static bool IsThaw(string? journaled) => journaled?.StartsWith(ThawPrefix, StringComparison.Ordinal) == true;
    private const string FreezePrefix = "freeze:", ThawPrefix = "thaw:";
    /// <summary>The final backup of the frozen source.</summary>
    public static EffectKey FinalBackup { get; } = new("backup:final");
    /// <summary>The stack files rewritten with the sites' new roles.</summary>
    public static EffectKey RolesWrite { get; } = new("roles:write");
    /// <summary>The old production scaled down once the operator confirmed.</summary>
    public static EffectKey ScaleDown(string site) => new($"scale-down:{site}");
    /// <summary>The new serving site's backup agent started.</summary>
    public static EffectKey BackupsStart(string site) => new($"backups:start:{site}");
    /// <summary>A rehearsal copy removed.</summary>
    public static EffectKey Teardown(string copy) => new($"teardown:{copy}");
}
