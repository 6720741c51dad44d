using System.CommandLine;
using Failover.Driver.Composition;
using Failover.Driver.Local;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Cli;

/// <summary>`failover backup`: back up every tenant of a local production site into its vault.</summary>
internal static class BackupCommand
{
    public static Command Build(App app)
    {
        var json = App.JsonOption("Print each tenant's backup (snapshot ids, duration, error) as JSON on stdout; progress goes to stderr");
        var command = new Command("backup",
            "Back up every tenant of the production site: its PostgreSQL database (pg_dump streamed into restic), its\n" +
            "files directory, and a manifest (rows and checksum per table, file tree checksum) that restores are\n" +
            "verified against. Used by the drill and tests on the local provider; cloud production keeps its own\n" +
            "backup job writing the same layout (docs/backup-and-restore.md).\n\n" +
            "Examples:\n  failover backup --stacks examples/local\n  failover backup --stacks examples/local --json")
        {
            json,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, async (topology, log) =>
        {
            var store = RunCommands.Store(app, parse, topology);
            app.Print($"Backing up {topology.Tenants.Count} tenants of {topology.Production.Name}\n");
            var results = await LocalBackup.RunAsync(topology, RunPortsFactory.LocalSitesOf(store, app.Options), RunCommands.ProjectDirectory(topology),
                app.Secrets, app.Time, log, line => app.Print(line + "\n"), ct);
            var failed = results.Count(r => !r.Succeeded);
            app.Print(failed == 0 ? $"All {results.Count} tenants backed up (run {results[0].RunId}).\n" : $"{failed} of {results.Count} tenants failed.\n");
            if (app.JsonOutput)
                app.Document(Reports.Json.Document("backup", new
                {
                    production = topology.Production.Name,
                    runId = results.FirstOrDefault()?.RunId,
                    succeeded = failed == 0,
                    tenants = results.Select(r => new
                    {
                        tenant = r.Tenant, succeeded = r.Succeeded, seconds = r.Duration.TotalSeconds, error = r.Error,
                        time = r.Set?.Parts.Any() == true ? r.Set.Time : (DateTimeOffset?)null,
                        snapshots = r.Set?.Parts.Select(p => p.Id),
                    }),
                }));
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }
}
