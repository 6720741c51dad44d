using System.Globalization;
using Failover.Core.Topology;

namespace Failover.Core.Backup;

/// <summary>What one restore step does, so the log and the verdicts name it in the domain's words.</summary>
public enum RestoreStepKind { FindRun, FetchManifest, PreHook, CreateDatabase, FetchDump, RestoreDatabase, RemoveDump, RestoreFiles, VerifyDatabase, VerifyFiles, PostHook }

/// <summary>One step of a tenant's restore: its kind, its name in verdicts (<c>pre-hook-2</c>), a title for the log, and for a hook its ordinal in its stage.</summary>
public sealed record RestoreStep(RestoreStepKind Kind, string Name, string Title, int? Hook = null);

/// <summary>
/// The one restore of a tenant, as data: the steps in the order both executors carry them out (the bash that
/// cloud-init runs, rendered by <see cref="Sites.RestoreRecipe"/>, and the driver's local restore), in the layout
/// <see cref="BackupLayout"/> and <see cref="BackupTags"/> define for the backup agent too. Manifest first (no
/// manifest, no complete set, and no hook has run yet), the pre-restore hooks, the database, the files, every
/// table's rows and checksum and every file's digest against the manifest, then the post-restore hooks
/// (migrations change what the manifest recorded, so they run after the check). The first step that fails ends
/// the tenant's restore: the executor drops what it left, so nothing half-restored is served, and the tenant is
/// reported failed with that step's <see cref="StepVerdict"/>. Hooks follow <see cref="HookContract"/>.
/// </summary>
public sealed record RestorePlan(string Tenant, int DatabaseJobs, IReadOnlyList<string> PreHooks, IReadOnlyList<string> PostHooks, IReadOnlyList<RestoreStep> Steps)
{
    /// <summary>
    /// The order of the step kinds. A hook kind repeats once per hook of its stage; the dump is fetched into a spool
    /// file and removed again only with more than one database job (pg_restore runs jobs only from a seekable file).
    /// </summary>
    public static readonly IReadOnlyList<RestoreStepKind> Sequence =
    [
        RestoreStepKind.FindRun, RestoreStepKind.FetchManifest, RestoreStepKind.PreHook, RestoreStepKind.CreateDatabase,
        RestoreStepKind.FetchDump, RestoreStepKind.RestoreDatabase, RestoreStepKind.RemoveDump, RestoreStepKind.RestoreFiles,
        RestoreStepKind.VerifyDatabase, RestoreStepKind.VerifyFiles, RestoreStepKind.PostHook,
    ];

    /// <summary>Whether the step kind occurs with this many database jobs (one job streams the dump: no spool file).</summary>
    public static bool Applies(RestoreStepKind kind, int databaseJobs) =>
        kind is not (RestoreStepKind.FetchDump or RestoreStepKind.RemoveDump) || databaseJobs > 1;

    /// <summary>The step's name in verdicts and journals-to-be: kebab case, a hook with its 1-based ordinal (<c>post-hook-1</c>).</summary>
    public static string NameOf(RestoreStepKind kind, int? hook = null)
    {
        var name = string.Concat(kind.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
        return hook is { } n ? $"{name}-{(n + 1).ToString(CultureInfo.InvariantCulture)}" : name;
    }

    /// <summary>The plan of a tenant of the topology, with its hooks from <c>failover:tenants</c>.</summary>
    public static RestorePlan For(Tenant tenant, int databaseJobs) => For(tenant.Name, tenant.PreRestore, tenant.PostRestore, databaseJobs);

    public static RestorePlan For(string tenant, IReadOnlyList<string> preHooks, IReadOnlyList<string> postHooks, int databaseJobs)
    {
        var jobs = Math.Max(1, databaseJobs);
        var steps = new List<RestoreStep>();
        foreach (var kind in Sequence.Where(k => Applies(k, jobs)))
        {
            if (kind is RestoreStepKind.PreHook or RestoreStepKind.PostHook)
            {
                var (stage, hooks) = kind == RestoreStepKind.PreHook ? ("pre", preHooks) : ("post", postHooks);
                for (var i = 0; i < hooks.Count; i++)
                    steps.Add(new(kind, NameOf(kind, i), $"{tenant}: {stage}-restore hook {i + 1} of {hooks.Count}", i));
                continue;
            }
            steps.Add(new(kind, NameOf(kind), $"{tenant}: {Title(kind, tenant, jobs)}"));
        }
        return new RestorePlan(tenant, jobs, preHooks, postHooks, steps);
    }

    /// <summary>The command of a hook step.</summary>
    public string CommandOf(RestoreStep step) => step.Kind switch
    {
        RestoreStepKind.PreHook => PreHooks[step.Hook!.Value],
        RestoreStepKind.PostHook => PostHooks[step.Hook!.Value],
        _ => throw new ArgumentException($"{step.Name} is not a hook step", nameof(step)),
    };

    /// <summary>The stage word of a hook step (<c>pre</c>, <c>post</c>), as hooks and their outcomes name it.</summary>
    public static string StageOf(RestoreStepKind kind) => kind == RestoreStepKind.PreHook ? "pre" : "post";

    private static string Title(RestoreStepKind kind, string tenant, int jobs) => kind switch
    {
        RestoreStepKind.FindRun => "find the backup run of its database snapshot",
        // The manifest is written last: fetching it first refuses an incomplete set before any data moves.
        RestoreStepKind.FetchManifest => "fetch the manifest of that run",
        RestoreStepKind.CreateDatabase => "create the database",
        RestoreStepKind.FetchDump => $"restic dump of {BackupLayout.DumpPath(tenant)} into the spool",
        RestoreStepKind.RestoreDatabase => jobs == 1
            ? $"restic dump of {BackupLayout.DumpPath(tenant)} into pg_restore"
            : $"pg_restore with {jobs} parallel jobs",
        RestoreStepKind.RemoveDump => "remove the spooled dump",
        RestoreStepKind.RestoreFiles => "restic restore of the files of that run",
        RestoreStepKind.VerifyDatabase => "compare every table's rows and checksum with the manifest",
        RestoreStepKind.VerifyFiles => "compare the files with the manifest",
        _ => kind.ToString(),
    };
}

/// <summary>
/// The verdict of one step: passed, or failed with the reason (for the checks, the differences in
/// <see cref="RestoreFindings"/>' words, joined by "; "). Both executors write the same line for it.
/// </summary>
public sealed record StepVerdict(string Step, bool Passed, string? Reason = null)
{
    public static StepVerdict Pass(RestoreStep step) => new(step.Name, true);
    public static StepVerdict Fail(RestoreStep step, string reason) => new(step.Name, false, reason);

    /// <summary>One line, tab-separated: <c>name passed</c> or <c>name failed reason</c> (what the bash executor writes).</summary>
    public override string ToString() => Passed ? $"{Step}\tpassed" : $"{Step}\tfailed\t{Reason}";

    /// <summary>Reads a line of <see cref="ToString"/>.</summary>
    public static StepVerdict Parse(string line)
    {
        var parts = line.Split('\t', 3);
        return parts switch
        {
            [var step, "passed"] => new(step, true),
            [var step, "failed", var reason] => new(step, false, reason),
            _ => throw new FormatException($"not a step verdict: '{line}'"),
        };
    }
}

/// <summary>
/// The reasons a check gives, written once: the driver's <see cref="Coherence"/> and the bash executor (which renders
/// them with jq or shell expressions in place of the arguments) say the same words for the same difference.
/// The templates hold no quote, backslash or dollar sign, so they can be spliced into a bash or jq string.
/// </summary>
public static class RestoreFindings
{
    public static string TableMissing(string table, string rows) => $"table {table} is missing ({rows} rows in the backup)";
    public static string RowsDiffer(string table, string got, string want) => $"table {table} has {got} rows, the backup had {want}";
    public static string ContentsDiffer(string table, string rows) => $"table {table} has {rows} rows as in the backup but different contents";
    public static string ExtraTable(string table) => $"table {table} was not in the backup";
    public static string FileMissing(string path) => $"file {path} is missing";
    public static string FileDiffers(string path) => $"file {path} differs from the backup";
    public static string ExtraFile(string path) => $"file {path} was not in the backup";
    public static string HookExited(string code) => $"exited {code}";
    public static string HookKilled(string seconds) => $"killed after {seconds}s";
    public const string NoManifest = "no manifest for this backup run (an incomplete backup set)";

    /// <summary>The reason of a failed check step: its differences, in order.</summary>
    public static string Join(IEnumerable<string> differences) => string.Join("; ", differences);
}

/// <summary>
/// How a tenant's hook runs, for both executors: in <see cref="Shell"/> (<c>bash -c</c>), in a clean environment of
/// exactly <see cref="Environment"/> (no credential of the vault, nothing of the driver's own environment), with its
/// output logged with secrets redacted, and killed after the time limit (<see cref="RestoreOptions.HookTimeout"/>,
/// default <see cref="DefaultTimeout"/>). Exit code 0 passes the step; anything else fails it.
/// </summary>
public static class HookContract
{
    public const string Shell = "bash";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>How long a hook that was told to stop (SIGTERM) at its time limit may take before it is killed.</summary>
    public static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(10);

    public const string Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// libpq's connection variables, passed on when the executor reaches the database through them (the local
    /// provider: a loopback port and a password); a cloud server's hooks reach PostgreSQL over the socket as root.
    /// </summary>
    public static readonly IReadOnlyList<string> ConnectionVariables = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGCONNECT_TIMEOUT"];

    /// <summary>The arguments of <see cref="Shell"/> that run one hook command.</summary>
    public static IReadOnlyList<string> Arguments(string command) => ["-c", command];

    /// <summary>
    /// The environment a hook gets, besides the connection variables: the values are given as text so the bash
    /// executor can pass shell expressions (<c>"$1"</c>) and the driver the values themselves.
    /// </summary>
    public static IReadOnlyList<(string Name, string Value)> Environment(string tenant, string filesDirectory, string database, string rehearsal, string home) =>
    [
        .. Base(home),
        ("FAILOVER_TENANT", tenant),
        ("FAILOVER_FILES_DIR", filesDirectory),
        ("PGDATABASE", database),
        ("FAILOVER_REHEARSAL", rehearsal),
    ];

    /// <summary>What every hook's clean environment starts from, a site's migration hooks too: the search path, home and locale.</summary>
    public static IReadOnlyList<(string Name, string Value)> Base(string home) => [("PATH", Path), ("HOME", home), ("LANG", "C.UTF-8")];

    /// <summary>The value of FAILOVER_REHEARSAL: 1 on a rehearsal copy (hooks can skip what customers would notice), else 0.</summary>
    public static string RehearsalFlag(bool rehearsal) => rehearsal ? "1" : "0";
}
