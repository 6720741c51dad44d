using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;
using static Failover.Driver.Tests.Backup.CatalogScenario;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// The run's select-backup step over a real restic vault: complete sets only, damaged ones skipped for an
/// older good one or a clear stop, and the RPO rule. The same step and vault adapter every failover uses.
/// </summary>
public class SelectionTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    [Fact]
    public async Task A_run_that_stopped_before_its_manifest_is_not_restored_from()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "vandelay");
        var run1 = await BackUpAsync(vault, site, "run-1");
        await BackUpNewDataAsync(vault, site, "run-2");
        var run2 = (await vault.Catalog().SetsAsync("vandelay", CancellationToken.None)).First();
        await vault.Repository.ForgetAsync([run2.Manifest!.Id], CancellationToken.None);

        var selection = await SelectAsync(vault, site.Tenant, acceptDataLoss: false);

        Assert.Equal(RunOutcome.Completed, selection.Result.Outcome);
        Assert.Equal(run1.Database!.Id, selection.Chosen);
    }

    [Fact]
    public async Task A_damaged_newest_backup_is_skipped_for_the_previous_good_one_which_restores()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "hooli");
        var run1 = await BackUpAsync(vault, site, "run-1");
        Damage(await BackUpNewDataAsync(vault, site, "run-2"));
        var run2 = (await vault.Catalog().SetsAsync("hooli", CancellationToken.None)).First();

        var selection = await SelectAsync(vault, site.Tenant, acceptDataLoss: false);

        Assert.Equal(run1.Database!.Id, selection.Chosen);
        Assert.Contains($"snapshot {run2.Database!.Id} of hooli failed verification; falling back to the previous one", selection.Notes);
        Assert.Contains("Backup of hooli from run run-2 is unusable", vault.LogText.ToString());

        // The fallback is restorable and coherent.
        var catalog = vault.Catalog();
        var point = await catalog.RestorePointAsync(run1, CancellationToken.None);
        var target = new TenantSite(site.Tenant, cluster.Database("hooli_restored"), vault.Scratch("hooli-restored"));
        var result = await vault.Restore().RestoreAsync(new TenantRestoreJob(target, point, Failover.Core.Backup.RestoreOptions.Default), CancellationToken.None);
        Assert.True(result.Succeeded, result.Error);
    }

    [Fact]
    public async Task With_every_backup_damaged_the_run_stops_before_provisioning_with_a_clear_error()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "umbrella");
        Damage(await BackUpNewDataAsync(vault, site, "run-1"));

        var selection = await SelectAsync(vault, site.Tenant, acceptDataLoss: false);

        Assert.Equal(RunOutcome.Failed, selection.Result.Outcome);
        Assert.StartsWith("no snapshot of tenant umbrella passed verification (1 tried", selection.Result.Error);
        Assert.Contains("restore from another vault", selection.Result.Error);
        Assert.Null(selection.Chosen);
    }

    [Fact]
    public async Task A_tenant_without_any_backup_is_named_in_the_error()
    {
        await using var vault = await TestVault.CreateAsync(cluster);

        var selection = await SelectAsync(vault, new Tenant("nobody", 1, 1), acceptDataLoss: false);

        Assert.Equal(RunOutcome.Failed, selection.Result.Outcome);
        Assert.StartsWith("tenant nobody has no complete backup in the vault: nothing to restore it from. ", selection.Result.Error);
        Assert.Contains("--without-tenant nobody", selection.Result.Error); // the partial failover's way on
    }

    [Fact]
    public async Task A_backup_older_than_the_rpo_is_refused_naming_the_data_loss_unless_accepted()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "soylent");
        var run1 = await BackUpAsync(vault, site, "run-1");
        vault.Clock.Now = run1.Time + TimeSpan.FromHours(26);

        var refused = await SelectAsync(vault, site.Tenant, acceptDataLoss: false);
        Assert.Equal(RunOutcome.Failed, refused.Result.Outcome);
        Assert.Contains("would lose 1d 2h of data, over the RPO target of 1d", refused.Result.Error);
        Assert.Contains("run `failover resume --accept-data-loss`", refused.Result.Error);

        var accepted = await SelectAsync(vault, site.Tenant, acceptDataLoss: true);
        Assert.Equal(run1.Database!.Id, accepted.Chosen);
        Assert.Contains(accepted.Notes, n => n.Contains("loses 1d 2h of data") && n.EndsWith("(--accept-data-loss)"));
    }

    [Fact]
    public async Task The_status_view_gives_the_newest_backup_age_against_the_rpo_and_its_size()
    {
        await using var vault = await TestVault.CreateAsync(cluster);
        var site = await TenantAsync(cluster, vault, "initech");
        var run1 = await BackUpAsync(vault, site, "run-1");
        vault.Clock.Now = run1.Time + TimeSpan.FromHours(26);

        var status = await vault.Catalog().StatusAsync("initech", Rpo, CancellationToken.None);

        Assert.Equal(TimeSpan.FromHours(26), status.Rpo!.DataLoss);
        Assert.False(status.Rpo.WithinTarget);
        Assert.True(status.Bytes > 100_000);
    }

    private static async Task<Failover.Core.Backup.BackupSet> BackUpAsync(TestVault vault, TenantSite site, string runId)
    {
        await BackUpNewDataAsync(vault, site, runId);
        return (await vault.Catalog().SetsAsync(site.Tenant.Name, CancellationToken.None)).First(s => s.RunId == runId);
    }

    private sealed record Selection(RunResult Result, string? Chosen, IReadOnlyList<string> Notes);

    /// <summary>Runs the select-backup step alone through the engine, against the vault adapter of a local failover.</summary>
    private static async Task<Selection> SelectAsync(TestVault vault, Tenant tenant, bool acceptDataLoss)
    {
        var examples = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));
        var production = examples.Production with { Tenants = [tenant], Targets = new Targets(Rpo, TimeSpan.FromHours(1)) };
        var topology = new Topology(examples.Stacks.Select(s => s == examples.Production ? production : s).ToList(), examples.ProjectBackendUrl, examples.StacksDirectory);
        var step = new FailoverSteps.SelectBackup(topology, new Deferred<IBackupVault>(_ => Task.FromResult<IBackupVault>(new ResticVault(vault.Catalog()))));
        using var journal = Journal.Open(vault.Scratch($"journal-{Guid.NewGuid():N}.jsonl"));
        var run = new RunContext("test", RunKind.Failover, production.Name, "local-standby", null, acceptDataLoss, "tester", "here");
        var result = await new RunEngine([step], vault.Clock, vault.Logger).RunAsync(journal, run, CancellationToken.None);
        var facts = journal.Records.LastOrDefault(r => r.Event == JournalEvent.StepCompleted)?.Data;
        return new Selection(result,
            (string?)facts?["facts"]?["snapshots"]?[tenant.Name]?["id"],
            facts?["notes"]?.AsArray().Select(n => (string)n!).ToList() ?? []);
    }
}
