namespace Failover.Core.Backup;

/// <summary>
/// How a tenant is restored. DatabaseJobs 1 streams the dump from restic straight into pg_restore
/// (no scratch space, as fast as parallel on small hosts: see docs/backup-and-restore.md); above 1 the
/// dump is first restored to ScratchDirectory, because pg_restore --jobs needs a seekable file.
/// </summary>
public sealed record RestoreOptions(
    int DatabaseJobs,
    string? ScratchDirectory,
    IReadOnlyList<string> PreHooks,
    IReadOnlyList<string> PostHooks,
    TimeSpan HookTimeout)
{
    /// <summary>One database job, no hooks, the hook time limit of <see cref="HookContract.DefaultTimeout"/>: what the local provider's restore and cloud-init's use.</summary>
    public static readonly RestoreOptions Default = new(1, null, [], [], HookContract.DefaultTimeout);

    /// <summary>A rehearsal's restore: hooks see FAILOVER_REHEARSAL=1 so they can leave out what customers would notice (mail, jobs).</summary>
    public bool Rehearsal { get; init; }
}
