using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;
using static Failover.Driver.Tests.Backup.CatalogScenario;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The select-backup step over two real restic vaults read in the order of failover:backup.vaults: the first unless it
/// cannot be read or its newest good set is older than the second's, and the step says why (journal, report, log).
/// </summary>
public class VaultOrderTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task The_first_vault_is_used_while_it_holds_the_newest_run_and_the_second_when_it_misses_it()
    {
        await using var a = await TestVault.CreateAsync(cluster);
        await using var b = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, a, "pied");
        await BothAsync(a, b, site, "run-1");

        var first = await SelectAsync(a, b, site.Tenant);
        Assert.Equal(RunOutcome.Completed, first.Result.Outcome);
        Assert.Equal("vault-a", first.Vault);
        Assert.Equal(Id(a, "pied", "run-1"), first.Chosen);
        Assert.DoesNotContain(first.Notes, n => n.Contains("restored from"));

        // The agent could not write vault-a for run-2: vault-b holds the newer set, and the run says so.
        await BackUpNewDataAsync(b, site, "run-2");
        var second = await SelectAsync(a, b, site.Tenant);
        Assert.Equal("vault-b", second.Vault);
        Assert.Equal(Id(b, "pied", "run-2"), second.Chosen);
        var why = Assert.Single(second.Notes, n => n.StartsWith("pied is restored from vault-b: "));
        Assert.Contains("vault-a's newest set of pied is from ", why);
        Assert.Contains(", older than vault-b's from ", why);
        Assert.Contains(why, second.Journal); // journaled as a note
        Assert.EndsWith("from vault-b", second.Summary);
    }

    [Fact]
    public async Task An_unreachable_first_vault_gives_way_to_the_second_and_the_run_names_why()
    {
        await using var a = await TestVault.CreateAsync(cluster);
        await using var b = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, a, "hooli");
        await BothAsync(a, b, site, "run-1");
        Directory.Move(a.Settings.Repository, a.Settings.Repository + "-gone"); // the vault's provider is down

        var selection = await SelectAsync(a, b, site.Tenant);

        Assert.Equal(RunOutcome.Completed, selection.Result.Outcome);
        Assert.Equal(Id(b, "hooli", "run-1"), selection.Chosen);
        Assert.Contains(selection.Notes, n => n.StartsWith("hooli is restored from vault-b: vault-a could not be read ("));
        Assert.Contains("Vault vault-a cannot be read, the run reads the next one", a.LogText.ToString());
    }

    [Fact]
    public async Task With_no_vault_readable_the_run_stops_naming_each_and_why()
    {
        await using var a = await TestVault.CreateAsync(cluster);
        await using var b = await TestVault.CreateAsync(cluster);
        Directory.Move(a.Settings.Repository, a.Settings.Repository + "-gone");
        Directory.Move(b.Settings.Repository, b.Settings.Repository + "-gone");

        var selection = await SelectAsync(a, b, new Tenant("nobody", 1, 1));

        Assert.Equal(RunOutcome.Failed, selection.Result.Outcome);
        Assert.Contains("no vault could be read: vault-a: ", selection.Result.Error);
        Assert.Contains("; vault-b: ", selection.Result.Error);
    }

    /// <summary>One agent run teed into both vaults: the same run id, the same data.</summary>
    private static async Task BothAsync(TestVault a, TestVault b, TenantSite site, string runId)
    {
        await BackUpNewDataAsync(a, site, runId);
        var copy = await b.Backup().BackupTenantAsync(site, runId, CancellationToken.None);
        Assert.True(copy.Succeeded, copy.Error);
    }

    private static string Id(TestVault vault, string tenant, string runId) =>
        vault.Catalog().SetsAsync(tenant, CancellationToken.None).Result.First(s => s.RunId == runId).Database!.Id;

    private sealed record Selection(RunResult Result, string? Chosen, string? Vault, string Summary, IReadOnlyList<string> Notes, string Journal);

    /// <summary>Runs the select-backup step alone through the engine, over the two vaults as a local failover reads them.</summary>
    private static async Task<Selection> SelectAsync(TestVault a, TestVault b, Tenant tenant)
    {
        var examples = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));
        var production = examples.Production with { Tenants = [tenant], Targets = new Targets(Rpo, TimeSpan.FromHours(1)) };
        var topology = new Topology(examples.Stacks.Select(s => s == examples.Production ? production : s).ToList(), examples.ProjectBackendUrl, examples.StacksDirectory);
        var vaults = new VaultSet([new VaultSource("vault-a", () => a.Settings), new VaultSource("vault-b", () => b.Settings)], a.Secrets, a.Clock, a.Logger, "100%");
        var step = new FailoverSteps.SelectBackup(topology, new Deferred<IBackupVault>(_ => Task.FromResult<IBackupVault>(vaults)));
        var path = a.Scratch($"journal-{Guid.NewGuid():N}.jsonl");
        using var journal = Journal.Open(path);
        var run = new RunContext("test", RunKind.Failover, production.Name, "local-standby", null, false, "tester", "here");
        var result = await new RunEngine([step], a.Clock, a.Logger).RunAsync(journal, run, CancellationToken.None);
        var done = journal.Records.LastOrDefault(r => r.Event == JournalEvent.StepCompleted)?.Data;
        var chosen = done?["facts"]?["snapshots"]?[tenant.Name];
        return new Selection(result, (string?)chosen?["id"], (string?)chosen?["vault"], (string?)done?["summary"] ?? "",
            done?["notes"]?.AsArray().Select(n => (string)n!).ToList() ?? [],
            string.Join("\n", journal.Records.Where(r => r.Event == JournalEvent.Note).Select(r => (string?)r.Data?["text"])));
    }
}
