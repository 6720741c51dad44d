using System.Globalization;
using System.Text.Json.Nodes;
using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;

namespace Failover.Driver.Runbooks;

/// <summary>Whether a site's backup agent was started, and what was done (or what the operator must do).</summary>
public sealed record AgentStart(bool Started, string Text);

/// <summary>The backup agent of the site that serves after a cutover: started, and its first backup looked for.</summary>
public interface IBackupAgents
{
    /// <summary>Enables the site's agent and starts its first run (the local provider runs it here, to the end); safe to repeat.</summary>
    Task<AgentStart> StartAsync(StackSpec site, SiteAddress address, CancellationToken cancellation);

    /// <summary>The site's first heartbeat finished at or after <paramref name="since"/>, waiting up to <paramref name="wait"/>; null while there is none.</summary>
    Task<BackupHeartbeat?> FirstBackupAsync(StackSpec site, DateTimeOffset since, TimeSpan wait, CancellationToken cancellation);
}

/// <summary>
/// A site whose agent the driver cannot start (a rehearsal copy's, which has none, or a record built without one):
/// starting it says what the operator runs on its data server, and no first backup is awaited.
/// </summary>
public sealed class AgentsStartedByHand : IBackupAgents
{
    /// <summary>What the operator runs when the driver cannot start an agent (also when a data server refuses the request).</summary>
    public static readonly string Instruction =
        $"on its data server run `systemctl enable --now {Core.Sites.BackupAgent.Timer}` (docs/backup-and-restore.md, the backup agent)";

    public Task<AgentStart> StartAsync(StackSpec site, SiteAddress address, CancellationToken cancellation) =>
        Task.FromResult(new AgentStart(false, $"{site.Name} has no backup agent the driver can start: {Instruction}"));

    public Task<BackupHeartbeat?> FirstBackupAsync(StackSpec site, DateTimeOffset since, TimeSpan wait, CancellationToken cancellation) =>
        Task.FromResult<BackupHeartbeat?>(null);
}

/// <summary>
/// The step after the cutover of `failover run` and `migrate`: the new serving site's backup agent started, its first
/// backup awaited for a bounded time or reported pending, and the report says from when new backups exist. It never
/// fails the run (the service already moved): a problem is a note and a follow-up. A rehearsal has no such step.
/// </summary>
/// <param name="wait">How long the run waits for the first backup (runtime option firstBackup): long enough for a small site's, short enough not to hold the report.</param>
internal sealed class StartBackups(StackSpec target, Deferred<IBackupAgents> agents, TimeSpan wait) : IStep
{
    private TimeSpan Wait => wait;
    public StepKind Kind => StepKind.Backups;
    public string Describe(RunContext run) => $"start {target.Name}'s backup agent and wait up to {Durations.Format(Wait)} for its first backup";

    public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
    {
        var backups = await agents.GetAsync(ct);
        var started = (await c.Once(EffectKey.BackupsStart(target.Name), async x =>
        {
            var at = c.Time.GetUtcNow();
            AgentStart start;
            try { start = await backups.StartAsync(target, FailoverSteps.Address(c), x); }
            // An HTTP timeout is a TaskCanceledException: only the run's own cancellation ends the step.
            catch (Exception e) when (e is InvalidOperationException or IOException or HttpRequestException or TimeoutException
                                      || (e is OperationCanceledException && !x.IsCancellationRequested))
            {
                start = new AgentStart(false, $"{target.Name}'s backup agent could not be started: {e.Message}");
            }
            return new JsonObject { ["started"] = start.Started, ["text"] = start.Text, ["at"] = at.ToString("O", CultureInfo.InvariantCulture) };
        }, ct))!;
        var text = (string)started["text"]!;
        var since = DateTimeOffset.Parse((string)started["at"]!, CultureInfo.InvariantCulture);
        var first = (bool)started["started"]! ? await backups.FirstBackupAsync(target, since, Wait, ct) : null;
        if (first is null)
            return new StepResult($"{text}; its first backup is pending: `failover status` shows the agent's heartbeat", new JsonObject { ["pending"] = true },
                (bool)started["started"]!
                    ? [$"{target.Name}'s first backup had not finished when the run ended: check `failover status` until its heartbeat is fresh"]
                    : [$"start {target.Name}'s backup agent by hand ({text}), then check `failover status` until its heartbeat is fresh"]);
        var notes = first.Failures.Select(f => $"{target.Name}'s first backup failed for {f}").ToList();
        foreach (var n in notes) c.Note(n);
        return new StepResult(
            $"{text}; new backups from {first.Finished.ToUniversalTime():u}: run {first.RunId}, {first.BackedUp} of {first.Tenants} tenants into {first.Vault}",
            new JsonObject
            {
                ["pending"] = false, ["runId"] = first.RunId, ["vault"] = first.Vault,
                ["finished"] = first.Finished.ToString("O", CultureInfo.InvariantCulture), ["backedUp"] = first.BackedUp, ["tenants"] = first.Tenants,
            }, notes);
    }
}

/// <summary>Which vaults a run's chosen snapshots come from, as the select-backup summary says it.</summary>
internal static class BackupSources
{
    /// <returns>"" for a single-vault run; " from A" when every tenant comes from A; " from A (3), B (1)" otherwise.</returns>
    public static string Summary(IReadOnlyList<string> vaults)
    {
        var counts = vaults.GroupBy(v => v).ToList();
        return counts.Count switch
        {
            0 => "",
            1 => $" from {counts[0].Key}",
            _ => " from " + string.Join(", ", counts.Select(g => $"{g.Key} ({g.Count()})")),
        };
    }
}
