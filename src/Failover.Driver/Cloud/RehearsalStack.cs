using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cloud;

/// <summary>
/// The rehearsal copy of a cloud standby: the Pulumi stack <c>&lt;standby&gt;-rehearsal</c>, created from the
/// standby's config as <see cref="RehearsalCopy"/> decides (role rehearsal, mode mvd, its own resource names),
/// provisioned like a failover's standby, and removed with <c>pulumi destroy</c> and <c>pulumi stack rm</c>.
/// The standby's own stack is only read.
/// </summary>
public sealed class RehearsalStack(IPulumi pulumi, ISiteProvisioner sites, StackSpec standby, StackSpec copy, Action<string> progress, ILogger log)
    : IRehearsalCopy, ISiteProvisioner
{
    public StackSpec Stack => copy;
    public string Where => $"{copy.Site.Provider.ToString().ToLowerInvariant()} {copy.Site.Location} (its own Pulumi stack)";
    public ISiteProvisioner Provisioner => this;
    public string RemoveCommand =>
        $"failover rehearse --teardown (it runs: pulumi destroy --yes --stack {copy.Name} && pulumi stack rm --yes {copy.Name})";

    /// <summary>Creates the copy's stack (or finds it after a crash), writes its config from the standby's, then provisions it.</summary>
    public async Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation)
    {
        if (site.Name != copy.Name) throw new InvalidOperationException($"a rehearsal provisions only its copy {copy.Name}, not {site.Name}");
        var config = RehearsalCopy.Config(await pulumi.GetAllConfigAsync(standby.Name, cancellation));
        await pulumi.SelectOrCreateStackAsync(copy.Name, cancellation);
        progress($"    {copy.Name}: {config.Count} config values copied from {standby.Name} (role rehearsal, mode mvd)");
        await pulumi.SetConfigAsync(copy.Name, config.Select(l => new ConfigSetting(l.Path, new ConfigValue(l.Value, l.Secret), l.IsPath)).ToList(), cancellation);
        log.Information("Rehearsal stack {Stack} configured from {Standby}", copy.Name, standby.Name);
        return await sites.ProvisionAsync(copy, restorePoint, cancellation);
    }

    public async Task<string> RemoveAsync(CancellationToken cancellation)
    {
        UpdateSummary? destroyed;
        try
        {
            progress($"    pulumi destroy {copy.Name}");
            destroyed = await pulumi.DestroyAsync(copy.Name, cancellation: cancellation);
        }
        catch (PulumiCommandException e) when (e.Kind == PulumiFailureKind.StackNotFound)
        {
            return $"{copy.Name} does not exist (never created, or already removed): nothing to remove";
        }
        var deleted = destroyed?.ResourceChanges.GetValueOrDefault("delete") ?? 0;
        progress($"    pulumi stack rm {copy.Name}");
        var removed = await pulumi.RemoveStackAsync(copy.Name, cancellation);
        return $"pulumi destroy deleted {deleted} resources of {copy.Name}; " + (removed ? "stack removed" : "the stack was already removed");
    }
}
