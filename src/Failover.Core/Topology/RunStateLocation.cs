using System.Web;

namespace Failover.Core.Topology;

/// <summary>Where a project's run state (lock, journals, reports, rehearsal history) is kept.</summary>
public enum RunStateKind
{
    /// <summary>A folder on the operator's machine: <c>.failover/</c> beside Pulumi.yaml.</summary>
    Directory,
    /// <summary>An S3 (or S3-compatible) prefix beside the Pulumi state: every operator sees the same state.</summary>
    S3,
}

/// <summary>
/// The run state's place, chosen from the Pulumi state backend (Pulumi.yaml's <c>backend.url</c>, else
/// <c>failover:stateBackend</c>): an <c>s3://</c> backend keeps it in the same bucket under
/// <c>PREFIX/.failover/PROJECT/</c>, next to Pulumi's own <c>.pulumi/</c> (with its stack locks); every other
/// backend (file://, Pulumi Cloud, none) keeps it in a folder on this machine.
/// </summary>
public sealed record RunStateLocation(RunStateKind Kind, string Display, string? Bucket = null, string Prefix = "",
    string? Endpoint = null, string? Region = null, bool ForcePathStyle = false)
{
    public static RunStateLocation Local(string directory) => new(RunStateKind.Directory, directory);

    /// <summary>
    /// Reads the backend URL as Pulumi does for S3 (gocloud.dev's form): <c>s3://bucket[/path]?region=R&amp;endpoint=URL&amp;s3ForcePathStyle=true</c>;
    /// <c>prefix=</c> is accepted as the path. Null when the backend is not S3.
    /// </summary>
    public static RunStateLocation? FromBackend(string? backendUrl, string project)
    {
        if (backendUrl is null || !backendUrl.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)) return null;
        var rest = backendUrl["s3://".Length..];
        var query = "";
        if (rest.IndexOf('?') is var q and >= 0) { query = rest[(q + 1)..]; rest = rest[..q]; }
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (bucket.Length == 0) throw new FormatException($"backend url {backendUrl} names no bucket: write s3://BUCKET?region=REGION");
        var args = HttpUtility.ParseQueryString(query);
        if (args["prefix"] is { Length: > 0 } p) path = p.Trim('/');
        var prefix = (path.Length > 0 ? path + "/" : "") + ".failover/" + project + "/";
        return new RunStateLocation(RunStateKind.S3, $"s3://{bucket}/{prefix.TrimEnd('/')}", bucket, prefix,
            args["endpoint"] is { Length: > 0 } e ? e : null, args["region"] is { Length: > 0 } r ? r : null,
            string.Equals(args["s3ForcePathStyle"], "true", StringComparison.OrdinalIgnoreCase));
    }
}
