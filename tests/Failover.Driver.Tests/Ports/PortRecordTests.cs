using Failover.Driver.Runbooks;

namespace Failover.Driver.Tests.Ports;

/// <summary>What each runbook can do is what its port record holds: a rehearsal cannot fence or move DNS because it has no such member.</summary>
public sealed class PortRecordTests
{
    private static IReadOnlyList<Type> Roles<T>() => typeof(T).GetProperties().Select(p => p.PropertyType).ToList();

    [Fact]
    public void A_rehearsal_has_no_fence_retirement_dns_or_freeze_member()
    {
        var roles = Roles<RehearsalPorts>();
        Assert.DoesNotContain(typeof(ISiteFence), roles);
        Assert.DoesNotContain(typeof(ISiteRetirement), roles);
        Assert.DoesNotContain(typeof(IDnsSwitch), roles);
        Assert.DoesNotContain(typeof(IWriteFreeze), roles);
        Assert.DoesNotContain(typeof(ISiteProbe), roles);
    }

    [Fact]
    public void A_restore_into_the_serving_site_can_neither_provision_fence_nor_move_dns()
    {
        var roles = Roles<TenantRestorePorts>();
        Assert.DoesNotContain(typeof(ISiteProvisioner), roles);
        Assert.DoesNotContain(typeof(ISiteFence), roles);
        Assert.DoesNotContain(typeof(IDnsSwitch), roles);
    }

    [Fact]
    public void No_runbook_record_has_a_nullable_port()
    {
        var context = new System.Reflection.NullabilityInfoContext();
        foreach (var record in new[] { typeof(FailoverPorts), typeof(RehearsalPorts), typeof(MigrationPorts), typeof(TenantRestorePorts), typeof(RunPorts) })
            Assert.All(record.GetProperties(), p => Assert.Equal(System.Reflection.NullabilityState.NotNull, context.Create(p).ReadState));
    }

    [Fact]
    public void A_rehearsal_provisions_through_its_copy_not_the_providers_sites()
    {
        var fake = new Engine.FakePorts(new Engine.ManualTime(DateTimeOffset.UnixEpoch), []);
        var copy = new CopyProvisioner();
        var rehearsal = fake.Ports.ForRehearsal(copy);
        Assert.Same(copy, rehearsal.Provisioner);
        Assert.Same(fake, rehearsal.Vault);
    }

    private sealed class CopyProvisioner : IRehearsalCopy, ISiteProvisioner
    {
        public Failover.Core.Topology.StackSpec Stack => throw new NotSupportedException();
        public string Where => "nowhere";
        public ISiteProvisioner Provisioner => this;
        public string RemoveCommand => "none";
        public Task<string> RemoveAsync(CancellationToken cancellation) => Task.FromResult("removed");
        public Task<SiteAddress> ProvisionAsync(Failover.Core.Topology.StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation) =>
            throw new NotSupportedException();
    }
}
