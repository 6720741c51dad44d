using System.CommandLine;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover restore --tenant NAME`: the tenants a failover went on without (no usable backup then) restored into the
/// site serving now, once a backup is found: journaled, resumable and reported like any run.
/// </summary>
internal static class RestoreCommand
{
    public static Command Build(App app)
    {
        var tenants = new Option<string[]>("--tenant")
        {
            HelpName = "TENANT", Description = "A tenant to restore into the serving site; repeatable", Required = true,
        };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (scripts)" };
        var restorePoint = new Option<string?>("--restore-point")
        {
            HelpName = "TIME|SNAPSHOT", Description = "Restore from backups at or before this time or this snapshot id",
        };
        var acceptLoss = new Option<bool>("--accept-data-loss") { Description = "Allow backups older than the RPO target (the report says so)" };
        var reason = new Option<string?>("--reason") { HelpName = "TEXT", Description = "Why the risks of this restore are accepted; the report quotes it" };
        var json = App.JsonOption("Print the restore's report as JSON on stdout; progress goes to stderr");
        var command = new Command("restore",
            "Restore named tenants into the site serving now: the ones a failover went on without (`--without-tenant`)\n" +
            "because they had no usable backup, once one is found. Their newest verified backup is restored and checked\n" +
            "against its manifest, and the health gate must pass; nothing is provisioned, fenced or moved in DNS.\n" +
            "Journaled like a failover: `failover resume` continues it after a crash.\n\n" +
            "Examples:\n  failover restore --tenant contoso\n  failover restore --tenant contoso --tenant fabrikam --yes --json\n\n" +
            "Exit codes: 0 restored, 2 usage, 4 a step failed (fix and resume), 5 another run holds the lock.")
        {
            tenants, yes, restorePoint, acceptLoss, reason, json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var names = parse.GetValue(tenants)!.Distinct().ToList();
            foreach (var n in names.Where(n => topology.Tenants.All(t => t.Name != n)))
                throw new UsageException($"--tenant {n}: no such tenant{NameSuggestion.DidYouMean(n, topology.Tenants.Select(t => t.Name))}; tenants: {string.Join(", ", topology.Tenants.Select(t => t.Name))}");
            var store = RunCommands.Store(app, parse, topology);
            store.ThrowIfLocked();
            if (store.Current is { } unfinished)
                throw new UsageException($"run {unfinished} has not finished; continue it with `failover resume`, or stop it with `failover abort`, then restore");
            var (serving, why) = ServingSite.Of(topology, store, await ServingSite.DeployedActiveStackAsync(topology,
                () => RunPortsFactory.Pulumi(RunCommands.ProjectDirectory(topology), app.Variable, app.PulumiEnvironment, app.Secrets, log, app.Time, app.Options), log, ct));
            app.Print($"Serving site: {why}.\n");
            // A cloud data server restores only at boot, from failover:snapshots; the driver has no way to restore one
            // tenant into it while it serves, and waiting on its health document would wait for nothing.
            if (serving.Site.Provider != Provider.Local)
                throw new UsageException($"`failover restore` restores into a local site only: {serving.Name} runs on {serving.Site.Provider.ToString().ToLowerInvariant()}, " +
                    $"whose data server restores its tenants at boot, from failover:snapshots; nothing was changed. Restore {string.Join(", ", names)} on its data server " +
                    "by hand, by the steps docs/backup-and-restore.md lists (\"Restoring on a cloud standby\")");
            if (!parse.GetValue(yes) && !app.Confirm(
                    $"This restores {string.Join(", ", names)} into {serving.Name}, which serves customers now; a database of the same name there is replaced.\n" +
                    "Type the site name to go on: ", serving.Name))
            {
                app.Error("not confirmed: nothing was changed (use --yes in scripts)");
                return ExitCodes.Usage;
            }
            var run = RunCommands.Stamp(app, parse, topology, serving, new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), RunKind.Restore,
                topology.Production.Name, serving.Name, parse.GetValue(restorePoint), parse.GetValue(acceptLoss), Environment.UserName, OperatorHost.Name))
                with { Only = names, Reason = parse.GetValue(reason) };
            return await RunCommands.Execute(app, topology, serving, store, run, log, ct);
        }));
        return command;
    }

    /// <summary>Continues an interrupted restore from its journal (`failover resume`).</summary>
    internal static Task<int> ResumeAsync(App app, Topology topology, RunStore store, RunContext run, ILogger log, CancellationToken ct) =>
        RunCommands.Execute(app, topology, topology.Find(run.Target) ?? throw new UsageException($"the site {run.Target} of restore {run.RunId} is no longer in the stack files"),
            store, run, log, ct);
}
