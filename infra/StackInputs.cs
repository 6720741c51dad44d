using Failover.Core.Topology;
using Pulumi;

namespace Failover.Infra;

/// <summary>What one run needs: the whole topology (from the stack files), this stack, and the secrets Pulumi decrypts.</summary>
public sealed record StackInputs(Topology Topology, StackSpec Stack, Func<Output<string>> HcloudToken)
{
    /// <summary>Reads the stack files next to Pulumi.yaml (the program runs in infra/) and picks the current stack.</summary>
    public static StackInputs Load()
    {
        var stacksDir = TopologyLoader.DefaultStacksDirectory(Directory.GetCurrentDirectory());
        var topology = TopologyLoader.Load(stacksDir);
        var name = Deployment.Instance.StackName;
        var stack = topology.Find(name)
            ?? throw new InvalidOperationException($"stack '{name}' has no Pulumi.{name}.yaml in {stacksDir}");
        return new StackInputs(topology, stack, () => new Config("hcloud").RequireSecret("token"));
    }
}
