using Failover.Core.Topology;
using Failover.Driver.Cli;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Emulation;

/// <summary>The booted world's copy of production's stack file: what the drill changes in it, read back by the real reader (nothing booted).</summary>
public sealed class CloudWorldCopyTests : IDisposable
{
    private readonly string _stacks = Directory.CreateTempSubdirectory("failover-world-copy-").FullName;

    public void Dispose() => Directory.Delete(_stacks, recursive: true);

    [Fact]
    public void The_copy_of_production_backs_up_every_minute_and_has_migration_hooks_into_its_data_server_with_the_file_otherwise_as_shipped()
    {
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(_stacks, Path.GetFileName(f)));
        var file = Path.Combine(_stacks, "Pulumi.prod-fsn1.yaml");
        var shipped = File.ReadAllText(file);
        File.WriteAllText(file, CloudWorld.WithDrillSettings(shipped, file, CloudWorld.Schedule, CloudWorld.MigrationHooks("/tmp/world/ssh", "prod-fsn1-db-1")));

        var topology = TopologyLoader.Load(_stacks);
        Assert.Equal(TimeSpan.FromMinutes(1), topology.Backup.Interval);
        var hooks = topology.Production.Migrate;
        // The agent's timer pauses during the freeze (the final backup is a run started after it) and resumes on a thaw.
        Assert.Equal(["/tmp/world/ssh prod-fsn1-db-1 systemctl stop failover-backup.timer"], hooks.Freeze.Take(1));
        Assert.Contains("/tmp/world/ssh prod-fsn1-db-1 runuser -u postgres -- psql", hooks.Freeze[1]);
        Assert.Contains("ALTER DATABASE \\\"$t\\\" SET default_transaction_read_only = on", hooks.Freeze[1]);
        Assert.Contains("default_transaction_read_only = off", hooks.Thaw[0]);
        Assert.Equal("/tmp/world/ssh prod-fsn1-db-1 systemctl start failover-backup.timer", hooks.Thaw[1]);
        Assert.Contains("systemctl start failover-backup.service", Assert.Single(hooks.Backup));
        // Comments and the rest of the file as the operator wrote them.
        var written = File.ReadAllText(file);
        Assert.Contains("# Production: Hetzner Falkenstein.", written);
        Assert.Contains("      full: { type: ccx33, count: 1 }", written);
        Assert.Equal(shipped.Replace("schedule: 30m", "schedule: 1m").Split('\n').Length + 10, written.Split('\n').Length);
    }

    [Fact]
    public void The_copy_of_a_standby_gets_migration_hooks_into_its_own_data_server_and_keeps_its_file_otherwise_as_shipped()
    {
        // A standby serves after a failover; a migration that leaves it then runs its hooks (the booted world migrates on from it).
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(_stacks, Path.GetFileName(f)));
        var file = Path.Combine(_stacks, "Pulumi.standby-hel1.yaml");
        var shipped = File.ReadAllText(file);
        File.WriteAllText(file, CloudWorld.WithDrillSettings(shipped, file, null, CloudWorld.MigrationHooks("/tmp/world/ssh", "standby-hel1-db-1")));

        var topology = TopologyLoader.Load(_stacks);
        Assert.Equal(TimeSpan.FromMinutes(30), topology.Backup.Interval);
        var hooks = topology.Find("standby-hel1")!.Migrate;
        Assert.Equal(["/tmp/world/ssh standby-hel1-db-1 systemctl stop failover-backup.timer"], hooks.Freeze.Take(1));
        Assert.Contains("/tmp/world/ssh standby-hel1-db-1 sh -c", Assert.Single(hooks.Backup));
        Assert.Equal(shipped.Split('\n').Length + 10, File.ReadAllText(file).Split('\n').Length);
    }
}
