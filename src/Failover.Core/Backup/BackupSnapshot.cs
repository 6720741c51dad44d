namespace Failover.Core.Backup;

/// <summary>Which piece of a tenant's backup a restic snapshot holds.</summary>
public enum BackupPart
{
    /// <summary>The PostgreSQL dump (pg_dump custom format), stored from a stream.</summary>
    Database,
    /// <summary>The tenant's files directory.</summary>
    Files,
    /// <summary>The manifest (row counts, checksums) written last: its presence marks the set complete.</summary>
    Manifest,
}

/// <summary>One restic snapshot as listed by <c>restic snapshots --json</c>.</summary>
public sealed record BackupSnapshot(
    string Id,
    string ShortId,
    DateTimeOffset Time,
    IReadOnlyList<string> Tags,
    IReadOnlyList<string> Paths)
{
    /// <summary>The value of a <c>key=value</c> tag, or null when the snapshot has none.</summary>
    public string? Tag(string key) => BackupTags.Value(Tags, key);
}

/// <summary>
/// The tags that tie restic snapshots to a tenant and a backup run. restic only filters on whole tags,
/// so each fact is one <c>key=value</c> tag and lookups use the exact string.
/// </summary>
public static class BackupTags
{
    public const string Tenant = "tenant";
    public const string Run = "run";
    public const string Part = "part";
    /// <summary>Marks snapshots written by this tool, so hand-made snapshots in a shared repository are ignored.</summary>
    public const string Tool = "failover";

    public static string Of(string key, string value) => $"{key}={value}";

    public static string? Value(IEnumerable<string> tags, string key)
    {
        var prefix = key + "=";
        return tags.FirstOrDefault(t => t.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
    }

    public static string PartName(BackupPart part) => part switch
    {
        BackupPart.Database => "db",
        BackupPart.Files => "files",
        _ => "manifest",
    };

    public static BackupPart? ParsePart(string? name) => name switch
    {
        "db" => BackupPart.Database,
        "files" => BackupPart.Files,
        "manifest" => BackupPart.Manifest,
        _ => null,
    };

    /// <summary>The tags of one part of one tenant's backup run.</summary>
    public static IReadOnlyList<string> For(string tenant, string runId, BackupPart part) =>
        [Tool, Of(Tenant, tenant), Of(Run, runId), Of(Part, PartName(part))];
}

/// <summary>
/// One tenant's backup from one run: the database, files and manifest snapshots that share a run tag.
/// Its time is the earliest part's, the moment the data was captured: that is what the RPO counts from.
/// </summary>
public sealed record BackupSet(string Tenant, string RunId, BackupSnapshot? Database, BackupSnapshot? Files, BackupSnapshot? Manifest)
{
    /// <summary>All three parts exist; the manifest is written last, so a run that died midway is incomplete.</summary>
    public bool IsComplete => Database is not null && Files is not null && Manifest is not null;

    public DateTimeOffset Time => Parts.Min(p => p.Time);

    public IEnumerable<BackupSnapshot> Parts => new[] { Database, Files, Manifest }.OfType<BackupSnapshot>();

    /// <summary>Groups a tenant's snapshots by run, newest first.</summary>
    public static IReadOnlyList<BackupSet> Group(string tenant, IEnumerable<BackupSnapshot> snapshots) =>
        snapshots
            .Where(s => s.Tag(BackupTags.Tenant) == tenant && s.Tag(BackupTags.Run) is not null)
            .GroupBy(s => s.Tag(BackupTags.Run)!)
            .Select(g => new BackupSet(tenant, g.Key, Newest(g, BackupPart.Database), Newest(g, BackupPart.Files), Newest(g, BackupPart.Manifest)))
            .OrderByDescending(s => s.Time)
            .ThenByDescending(s => s.RunId, StringComparer.Ordinal)
            .ToList();

    private static BackupSnapshot? Newest(IEnumerable<BackupSnapshot> run, BackupPart part) =>
        run.Where(s => BackupTags.ParsePart(s.Tag(BackupTags.Part)) == part).MaxBy(s => s.Time);
}

/// <summary>
/// Where <c>failover backup</c> puts a tenant's data inside the snapshots of its backup set: every reader
/// (the driver's restore and verification, the cloud-init recipe) takes the paths from here.
/// </summary>
public static class BackupLayout
{
    /// <summary>The manifest's file name; it is stored from stdin, so it sits at the root of the manifest snapshot.</summary>
    public const string ManifestFileName = "manifest.json";

    /// <summary>The manifest inside the manifest snapshot.</summary>
    public const string ManifestPath = "/" + ManifestFileName;

    /// <summary>The name the database dump is stored under (<c>restic backup --stdin --stdin-filename</c>).</summary>
    public static string DumpFileName(string tenant) => $"{tenant}.dump";

    /// <summary>The pg_dump custom-format stream inside the database snapshot.</summary>
    public static string DumpPath(string tenant) => "/" + DumpFileName(tenant);
}
