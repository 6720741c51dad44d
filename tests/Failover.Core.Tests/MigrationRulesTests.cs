using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>The pure rules of a planned migration: the TTL wait, and the failover:migrate hooks in the stack files.</summary>
public class MigrationRulesTests
{
    private static readonly DateTimeOffset Lowered = new(2026, 11, 22, 3, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(3600, 60, 3600)]
    [InlineData(300, 60, 300)]
    [InlineData(60, 60, 0)]
    [InlineData(30, 30, 0)]
    public void The_cutover_waits_the_old_ttl_after_the_lowering_and_not_at_all_when_nothing_was_lowered(int oldTtl, int during, int waitSeconds)
    {
        Assert.Equal(during, MigrationTtl.During(oldTtl));
        Assert.Equal(Lowered + TimeSpan.FromSeconds(waitSeconds), MigrationTtl.SafeFrom(Lowered, oldTtl));
    }

    [Fact]
    public void Migration_hooks_are_read_from_a_site_stack()
    {
        using var s = Scenario.Cloud();
        File.AppendAllText(s.PathOf("prod-fsn1"),
            "  failover:migrate:\n    freeze: [\"curl -fsS -X POST https://admin.example.com/maintenance/on\"]\n    thaw: curl -fsS -X POST https://admin.example.com/maintenance/off\n    backup: [\"ssh backup@prod systemctl start failover-backup\"]\n");
        var hooks = s.Load().Production.Migrate;
        Assert.Equal(["curl -fsS -X POST https://admin.example.com/maintenance/on"], hooks.Freeze);
        Assert.Equal(["curl -fsS -X POST https://admin.example.com/maintenance/off"], hooks.Thaw);
        Assert.Single(hooks.Backup);
        Assert.Empty(s.Load().Find("standby-hel1")!.Migrate.Freeze);
    }

    [Fact]
    public void A_freeze_without_its_thaw_is_refused_naming_the_key_and_the_fix()
    {
        using var s = Scenario.Cloud();
        File.AppendAllText(s.PathOf("prod-fsn1"), "  failover:migrate:\n    freeze: [\"touch /srv/maintenance\"]\n");
        var p = s.Problem();
        Assert.EndsWith("Pulumi.prod-fsn1.yaml", p.File);
        Assert.Contains("thaw", p.Key);
        Assert.Contains("undo the freeze", p.Fix);
    }

    [Fact]
    public void Migration_hooks_on_a_vault_stack_are_refused()
    {
        using var s = Scenario.Cloud();
        File.AppendAllText(s.PathOf("vault-aws-par"), "  failover:migrate:\n    freeze: [\"true\"]\n    thaw: [\"true\"]\n");
        var p = s.Problem();
        Assert.Equal("failover:migrate", p.Key);
        Assert.Contains("production or standby", p.Message);
    }
}
