using Failover.Core.Sites;
using Failover.Core.Topology;
using Pulumi;
using Pulumi.Testing;

namespace Failover.Infra.Tests;

/// <summary>Runs the program for one stack of a topology under mocks and keeps what it registered and exported.</summary>
public sealed record StackRun(RecordingMocks Mocks, IDictionary<string, object?> Outputs, IReadOnlySet<string> SecretOutputs)
{
    public static readonly string RepoRoot = FindRoot();
    public static string ExampleStacks => Path.Combine(RepoRoot, "infra", "stacks");

    /// <summary>Outputs the referenced stacks publish, as the engine would hand them to a StackReference.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, object>> ReferencedOutputs =
        new Dictionary<string, IReadOnlyDictionary<string, object>>
        {
            ["prod-fsn1"] = new Dictionary<string, object> { [StackOutputs.ServiceIpv4] = "198.51.100.7", [StackOutputs.ServiceIpv6] = "2001:db8::7", [StackOutputs.HealthIpv4] = "198.51.100.17" },
            ["standby-hel1"] = new Dictionary<string, object> { [StackOutputs.ServiceIpv4] = "198.51.100.8", [StackOutputs.ServiceIpv6] = "2001:db8::8", [StackOutputs.HealthIpv4] = "198.51.100.18" },
            ["vault-aws-par"] = new Dictionary<string, object>
            {
                [StackOutputs.ResticRepository] = "s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic",
                [StackOutputs.ResticPassword] = "vault-password-from-secret",
                [StackOutputs.ReaderAccessKeyId] = "AKIAREADER",
                [StackOutputs.ReaderSecretAccessKey] = "reader-secret",
            },
        };

    public static async Task<StackRun> Of(string stack, Topology? topology = null)
    {
        topology ??= TopologyLoader.Load(ExampleStacks);
        var inputs = new StackInputs(topology, topology.Find(stack)!, () => Output.CreateSecret("mock-hcloud-token"));
        var mocks = new RecordingMocks(ReferencedOutputs);
        StackExports? exports = null;
        var (_, outputs) = await Deployment.TestAsync(mocks, new TestOptions { ProjectName = "failover", StackName = stack, IsPreview = false },
            () => (exports = FailoverStack.BuildExports(inputs)).ToDictionary());
        return new StackRun(mocks, outputs, exports!.SecretNames);
    }

    /// <summary>
    /// An exported value: an <c>Output&lt;T&gt;</c> is awaited, a plain value (Pulumi accepts both in a stack's outputs,
    /// e.g. <c>restoredSnapshots</c>) is returned as it is.
    /// </summary>
    public static async Task<T> Value<T>(object? output) => output switch
    {
        Output<T> o => await Pulumi.Utilities.OutputUtilities.GetValueAsync(o),
        Input<T> i => await Pulumi.Utilities.OutputUtilities.GetValueAsync(i.ToOutput()),
        T plain => plain,
        null => default!,
        _ => throw new InvalidCastException($"an output of type {output.GetType()} is neither a {typeof(T).Name} nor an Output<{typeof(T).Name}>"),
    };

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Failover.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
