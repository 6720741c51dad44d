using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.Runbooks;

/// <summary>
/// The typed step facts read what the previous version journaled (raw JSON under each step's name) and write it back
/// unchanged, so a journal written before these types still resumes and reports; the report reads the same types.
/// </summary>
public class StepFactsTests
{
    // Facts exactly as the previous version's steps journaled them (the JSON its code built by hand).
    private const string Assess = """{"productionServing":true,"latest":{"contoso":{"id":"c1","time":"2026-11-22T02:40:00.0000000+00:00","bytes":1200}}}""";
    private const string SelectBackup = """{"snapshots":{"contoso":{"id":"c1","time":"2026-11-22T02:40:00.0000000+00:00","bytes":1200,"vault":"vault-b"},"fabrikam":{"id":"f1","time":"2026-11-22T02:41:00.0000000+00:00","bytes":900}}}""";
    private const string Restore = """{"tenants":{"contoso":{"result":"contoso: 3 tables verified","start":"2026-11-22T03:05:00.0000000+00:00","end":"2026-11-22T03:06:00.0000000+00:00","snapshot":{"id":"c0","time":"2026-11-22T01:40:00.0000000+00:00","bytes":1100}},"fabrikam":{"result":"fabrikam: 2 tables verified","start":"2026-11-22T03:05:00.0000000+00:00","end":"2026-11-22T03:07:00.0000000+00:00"}}}""";
    private const string Cutover = """{"visibleAt":"2026-11-22T03:09:00.0000000+00:00","addresses":["192.0.2.10"]}""";
    private const string TtlLowerEffect = """{"at":"2026-11-22T02:00:00.0000000+00:00","oldTtl":3600,"ttl":60}""";
    private const string LowerTtl = """{"loweredAt":"2026-11-22T02:00:00.0000000+00:00","oldTtl":3600,"ttl":60,"safeFrom":"2026-11-22T03:00:00.0000000+00:00"}""";
    private const string FreezeEffect = """{"frozenAt":"2026-11-22T03:20:00.0000000+00:00","said":"local-prod: 3 databases read-only"}""";
    private const string Freeze = """{"frozenAt":"2026-11-22T03:20:00.0000000+00:00"}""";
    private const string FinalSync = """{"snapshots":{"contoso":{"id":"c9","time":"2026-11-22T03:21:00.0000000+00:00","bytes":1300}},"tenants":{"contoso":{"result":"contoso: 3 tables verified","start":"2026-11-22T03:22:00.0000000+00:00","end":"2026-11-22T03:23:00.0000000+00:00"}},"verified":true}""";

    private static JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();

    private static void Same(string journaled, JsonObject written) =>
        Assert.True(JsonNode.DeepEquals(O(journaled), written), $"journaled {journaled}\nwritten   {written.ToJsonString()}");

    [Fact]
    public void Facts_journaled_by_the_previous_version_read_back_as_types_and_write_back_unchanged()
    {
        var assess = AssessFacts.From(O(Assess));
        Assert.True(assess.ProductionServing);
        Assert.Equal("c1", Assert.Single(assess.Latest).SnapshotId);
        Same(Assess, assess.Json());

        var chosen = ChosenSnapshots.From(O(SelectBackup));
        Assert.Equal(["c1", "f1"], chosen.Snapshots.Select(s => s.SnapshotId));
        Assert.Equal("vault-b", chosen.Vaults["contoso"]);
        Assert.False(chosen.Vaults.ContainsKey("fabrikam"));
        Same(SelectBackup, chosen.Json());

        var restore = RestoreFacts.From(O(Restore));
        Assert.Equal("c0", restore.Tenants["contoso"].Fallback!.SnapshotId);
        Assert.Null(restore.Tenants["fabrikam"].Fallback);
        Same(Restore, restore.Json());

        Same(Cutover, CutoverFacts.From(O(Cutover))!.Json());
        Assert.Null(CutoverFacts.From(new JsonObject())); // a journal whose cutover handed nothing on

        var lowered = TtlLowered.From(O(TtlLowerEffect));
        Assert.Equal((3600, 60), (lowered.OldTtl, lowered.Ttl));
        Same(TtlLowerEffect, lowered.Json());
        var ttl = LowerTtlFacts.From(O(LowerTtl));
        Assert.True(ttl.Lowered);
        Same(LowerTtl, ttl.Json());

        var frozen = Frozen.From(O(FreezeEffect));
        Assert.Equal("local-prod: 3 databases read-only", frozen.Said);
        Same(FreezeEffect, frozen.Json());
        Same(Freeze, FreezeFacts.From(O(Freeze)).Json());

        var sync = FinalSyncFacts.From(O(FinalSync));
        Assert.True(sync.Verified);
        Same(FinalSync, sync.Json());
    }

    [Fact]
    public void The_report_of_a_journal_the_previous_version_wrote_reads_the_fallback_snapshot_freeze_and_cutover()
    {
        var t0 = new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);
        var run = new RunContext("20261122-030000-abcdef", RunKind.Failover, "prod-fsn1", "standby-hel1", null, false, "ops", "host");
        JournalRecord Done(string step, string facts, int minute) =>
            new(JournalEvent.StepCompleted, t0.AddMinutes(minute), step, Data: new JsonObject { ["summary"] = step, ["facts"] = O(facts) });
        var records = new List<JournalRecord>
        {
            new(JournalEvent.RunStarted, t0, Data: RunEngine.RunData(run)),
            Done("assess", Assess, 1), Done("select-backup", SelectBackup, 2), Done("restore", Restore, 7), Done("cutover", Cutover, 9),
            new(JournalEvent.RunCompleted, t0.AddMinutes(10)),
        };
        var report = IncidentReport.FromJournal(records, new Targets(TimeSpan.FromMinutes(30), TimeSpan.FromHours(4)));
        // contoso's chosen snapshot was damaged and replaced at restore time: the data, and the RPO, are the fallback's.
        Assert.Equal(["c0", "f1"], report.Snapshots.Select(s => s.SnapshotId));
        Assert.Equal(t0.AddMinutes(6), report.Snapshots[0].RestoredAt);
        Assert.Equal(t0.AddMinutes(9), report.CutoverVisible);
        Assert.Equal(t0.AddMinutes(9) - t0.AddMinutes(-80), report.Rpo);
    }
}
