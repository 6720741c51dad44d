using Failover.Core.Topology;

namespace Failover.Driver.Runbooks;

/// <summary>Chooses the adapters of a run from the target's provider.</summary>
public static class RunPortsFactory
{
    public static RunPorts Create(Topology topology, StackSpec target) =>
        throw new NotSupportedException($"running a failover to a {target.Site.Provider} site is not wired yet in this build");
}
