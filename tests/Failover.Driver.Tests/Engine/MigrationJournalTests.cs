using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.Engine;

/// <summary>The journal rules of a migration: when the source must be thawed, what a thaw voids, the report's freeze window, and which site serves.</summary>
public class MigrationJournalTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
    private static readonly RunContext Run = new("20261122-030000-abcdef", RunKind.Migration, "local-prod", "local-standby", null, false, "ops", "host");

    private static readonly Topology Local = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));
    private static readonly Deferred<MigrationPorts> NoPorts = Deferred<MigrationPorts>.Refused("only the journal is read");
    private static readonly Compensation Thaw = MigrationSteps.Compensation(Local.Production, NoPorts);
    private static readonly IReadOnlyList<IStep> Runbook = MigrationSteps.For(Local, Local.Production, Local.Find("local-standby")!, NoPorts, "unused",
        new MigrationChoices(false, false, false), _ => { });

    private static JournalRecord Started() => new(JournalEvent.RunStarted, T0, Data: RunEngine.RunData(Run));
    private static JournalRecord Effect(JournalEvent e, string step, string effect, int minute, JsonObject? data = null) => new(e, T0.AddMinutes(minute), step, effect, data);
    private static JournalRecord Completed(string step, int minute, JsonObject facts) =>
        new(JournalEvent.StepCompleted, T0.AddMinutes(minute), step, Data: new JsonObject { ["summary"] = step, ["facts"] = facts });

    [Fact]
    public void A_freeze_begun_without_a_cutover_needs_a_thaw_and_a_thaw_voids_the_frozen_steps_so_they_run_again()
    {
        var records = new List<JournalRecord>
        {
            Started(),
            Effect(JournalEvent.EffectStarted, "freeze", "freeze:local-prod", 1),
        };
        Assert.True(MigrationSteps.NeedsThaw(records));
        records.Add(Effect(JournalEvent.EffectDone, "freeze", "freeze:local-prod", 1));
        records.Add(Completed("freeze", 1, new JsonObject { ["frozenAt"] = T0.AddMinutes(1).ToString("O") }));
        records.Add(Effect(JournalEvent.EffectDone, "thaw", "thaw:local-prod", 2));
        Assert.False(MigrationSteps.NeedsThaw(records));

        records.Add(Thaw.Completion(T0.AddMinutes(2)));
        var live = Journal.Live(records);
        Assert.DoesNotContain(live, r => r.Step is "freeze" or "thaw");
        Assert.False(MigrationSteps.NeedsThaw(records)); // nothing frozen any more until the next freeze

        records.Add(Effect(JournalEvent.EffectStarted, "freeze", "freeze:local-prod", 3));
        records.Add(Effect(JournalEvent.EffectStarted, "cutover", "dns:point", 4));
        Assert.False(MigrationSteps.NeedsThaw(records)); // DNS may already point at the target: a thaw would split writes
    }

    [Fact]
    public void A_thaw_killed_before_its_completion_line_is_pending_so_the_next_run_finishes_it_and_freezes_and_syncs_again()
    {
        var records = new List<JournalRecord>
        {
            Started(),
            Completed("freeze", 1, new JsonObject { ["frozenAt"] = T0.AddMinutes(1).ToString("O") }),
            Completed("final-sync", 2, new JsonObject()),
        };
        Assert.False(Thaw.IsPending(records, Runbook));
        records.Add(new JournalRecord(JournalEvent.CompensationStarted, T0.AddMinutes(3)));
        Assert.True(Thaw.IsPending(records, Runbook)); // killed before the thaw even started
        records.Add(Effect(JournalEvent.EffectDone, "thaw", "thaw:local-prod", 3));
        // Writes resumed after the thaw: a final sync that counted as done would miss them.
        Assert.True(Thaw.IsPending(records, Runbook));
        records.Add(Thaw.Completion(T0.AddMinutes(3)));
        Assert.False(Thaw.IsPending(records, Runbook));
        Assert.DoesNotContain(Journal.Live(records), r => r.Step is "freeze" or "final-sync" or "thaw");
    }

    [Fact]
    public void A_thaw_journaled_by_an_earlier_version_without_its_reopen_line_is_pending_too()
    {
        // Earlier versions wrote no start line: a thaw's records stayed live until the reopen line after them.
        var records = new List<JournalRecord>
        {
            Started(),
            Completed("freeze", 1, new JsonObject { ["frozenAt"] = T0.AddMinutes(1).ToString("O") }),
            Effect(JournalEvent.EffectDone, "thaw", "thaw:local-prod", 3),
        };
        Assert.True(Thaw.IsPending(records, Runbook));
        records.Add(new JournalRecord(JournalEvent.StepsReopened, T0.AddMinutes(3), Data: new JsonObject { ["steps"] = new JsonArray("freeze", "final-sync", "gate", "thaw") }));
        Assert.False(Thaw.IsPending(records, Runbook));
    }

    [Fact]
    public void Only_a_migration_paused_at_its_scale_down_awaits_confirmation()
    {
        var records = new List<JournalRecord> { Started(), new(JournalEvent.StepPaused, T0.AddMinutes(1), "lower-ttl") };
        Assert.False(MigrationSteps.AwaitsConfirmation(records));
        records.Add(new(JournalEvent.StepPaused, T0.AddMinutes(30), "scale-down"));
        Assert.True(MigrationSteps.AwaitsConfirmation(records));
    }

    [Fact]
    public void The_report_states_the_last_freeze_to_the_cutover_as_the_downtime_and_rpo_zero_after_a_verified_final_sync()
    {
        var records = new List<JournalRecord>
        {
            Started(),
            Completed("freeze", 10, new JsonObject { ["frozenAt"] = T0.AddMinutes(9).ToString("O") }),
            Thaw.Completion(T0.AddMinutes(11)),
            Completed("freeze", 20, new JsonObject { ["frozenAt"] = T0.AddMinutes(20).ToString("O") }),
            Completed("final-sync", 21, new JsonObject
            {
                ["verified"] = true,
                ["snapshots"] = new JsonObject { ["northwind"] = new JsonObject { ["id"] = "abc", ["time"] = T0.AddMinutes(20.5).ToString("O"), ["bytes"] = 1 } },
                ["tenants"] = new JsonObject(),
            }),
            Completed("cutover", 22, new JsonObject { ["visibleAt"] = T0.AddMinutes(22).ToString("O") }),
        };
        var report = IncidentReport.FromJournal(records, new Targets(TimeSpan.FromMinutes(30), TimeSpan.FromHours(1)));
        Assert.Equal(TimeSpan.FromMinutes(2), report.FreezeWindow);
        Assert.Equal(TimeSpan.Zero, report.Rpo);
        Assert.Equal("abc", Assert.Single(report.Snapshots).SnapshotId);
        Assert.Contains("**2m of downtime** customers saw", report.Markdown());
        Assert.Equal(120, (double)JsonNode.Parse(report.JsonText())!["freezeWindowSeconds"]!);
    }

    [Fact]
    public void The_site_serving_is_where_the_newest_cutover_moved_service_else_production()
    {
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "examples", "local"));
        var store = new RunStore(Directory.CreateTempSubdirectory("failover-serving-").FullName);
        try
        {
            Assert.Equal("local-prod", Failover.Driver.Runbooks.ServingSite.Of(topology, store).Site.Name);

            var failover = Run with { RunId = "20261122-030000-000001", Kind = RunKind.Failover };
            using (var j = Journal.Open(store.JournalPath(failover.RunId)))
            {
                j.Append(new JournalRecord(JournalEvent.RunStarted, T0, Data: RunEngine.RunData(failover)));
                j.Append(Completed("cutover", 5, new JsonObject()));
            }
            var (site, why) = Failover.Driver.Runbooks.ServingSite.Of(topology, store);
            Assert.Equal("local-standby", site.Name);
            Assert.Contains("the stack files still name local-prod production", why);

            // A newer migration that stopped before its cutover moved nothing.
            var stopped = Run with { RunId = "20261122-040000-000002", Target = "local-prod", Production = "local-standby" };
            using (var j = Journal.Open(store.JournalPath(stopped.RunId)))
                j.Append(new JournalRecord(JournalEvent.RunStarted, T0.AddHours(1), Data: RunEngine.RunData(stopped)));
            Assert.Equal("local-standby", Failover.Driver.Runbooks.ServingSite.Of(topology, store).Site.Name);
        }
        finally { Directory.Delete(store.Root, true); }
    }
}
