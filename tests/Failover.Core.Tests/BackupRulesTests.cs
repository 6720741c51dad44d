using Failover.Core.Backup;

namespace Failover.Core.Tests;

public class BackupRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 10, 2, 0, 0, TimeSpan.Zero);

    private static BackupSnapshot Snap(string id, string tenant, string run, BackupPart part, int minutes) =>
        new(id, id, T0.AddMinutes(minutes), BackupTags.For(tenant, run, part), ["/x"]);

    [Fact]
    public void Snapshots_group_into_sets_per_run_newest_first_and_only_for_the_tenant()
    {
        var sets = BackupSet.Group("acme",
        [
            Snap("a1", "acme", "r1", BackupPart.Database, 0), Snap("a2", "acme", "r1", BackupPart.Files, 1), Snap("a3", "acme", "r1", BackupPart.Manifest, 2),
            Snap("b1", "acme", "r2", BackupPart.Database, 60), Snap("b2", "acme", "r2", BackupPart.Files, 61),
            Snap("g1", "globex", "r2", BackupPart.Manifest, 62),
            new BackupSnapshot("h1", "h1", T0, ["tenant=acme"], ["/hand-made"]),
        ]);

        Assert.Equal(["r2", "r1"], sets.Select(s => s.RunId));
        Assert.False(sets[0].IsComplete);
        Assert.True(sets[1].IsComplete);
        Assert.Equal(T0, sets[1].Time);
    }

    [Fact]
    public void A_backup_exactly_as_old_as_the_target_is_within_it_and_one_second_more_is_refused()
    {
        var target = TimeSpan.FromHours(1);
        Assert.True(RpoVerdict.Evaluate("acme", T0, T0 + target, target, false).Allowed);

        var over = RpoVerdict.Evaluate("acme", T0, T0 + target + TimeSpan.FromSeconds(1), target, false);
        Assert.False(over.Allowed);
        Assert.Contains("would lose 1h 1s of data", over.Message);
        Assert.True((over with { AcceptDataLoss = true }).Allowed);
    }

    [Fact]
    public void Files_that_differ_only_in_content_are_named()
    {
        var backup = new Manifest("acme", "r1", T0, new DatabaseManifest("acme", [], 0, ""),
            FilesManifest.Of([new FileEntry("a.txt", 1, "aa"), new FileEntry("b.txt", 1, "bb")]));

        var coherence = Coherence.Compare(backup, [], FilesManifest.Of([new FileEntry("b.txt", 1, "bb"), new FileEntry("a.txt", 1, "zz")]));

        Assert.Equal(["file a.txt differs from the backup"], coherence.Differences);
        Assert.True(Coherence.Compare(backup, [], FilesManifest.Of([new FileEntry("b.txt", 1, "bb"), new FileEntry("a.txt", 1, "aa")])).IsCoherent);
    }
}
