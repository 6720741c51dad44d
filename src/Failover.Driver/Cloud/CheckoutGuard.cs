using System.Security.Cryptography;
using System.Text.Json;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;
using Serilog;

namespace Failover.Driver.Cloud;

/// <summary>The stack files of this checkout are behind what is deployed: the command stops before it changes anything.</summary>
public sealed class StaleCheckoutException(IReadOnlyList<CheckoutDifference> differences) : Exception(StaleCheckout.Describe(differences))
{
    public IReadOnlyList<CheckoutDifference> Differences { get; } = differences;
}

/// <summary>
/// Before a run, rehearsal or migration: reads what each deployed Pulumi stack of the topology says (its mode,
/// restored snapshots and the DNS stack's activeStack outputs) and refuses when the stack files differ
/// (<see cref="StaleCheckout"/>). Stacks not deployed yet, and local sites (no Pulumi), are not compared.
/// </summary>
public static class CheckoutGuard
{
    /// <exception cref="StaleCheckoutException">A difference that matters.</exception>
    /// <returns>Null when compared; otherwise why no comparison was possible (said as a warning: the command goes on).</returns>
    public static async Task<string?> CheckAsync(Topology topology, Func<IPulumi> pulumiFactory, ILogger log, CancellationToken cancellation)
    {
        var cloud = topology.Stacks.Where(s => s.Site.Provider != Provider.Local && (s.Role is Role.Production or Role.Standby || s.Dns is not null)).ToList();
        if (cloud.Count == 0) return null;
        var deployed = new List<DeployedStack>();
        try
        {
            var pulumi = pulumiFactory();
            var existing = (await pulumi.ListStacksAsync(cancellation)).Select(s => s.Name.Split('/')[^1]).ToHashSet(StringComparer.Ordinal);
            foreach (var stack in cloud.Where(s => existing.Contains(s.Name)))
            {
                var outputs = await pulumi.GetOutputsAsync(stack.Name, cancellation);
                deployed.Add(new DeployedStack(stack.Name, Text(outputs, StackOutputs.Mode), Map(outputs, StackOutputs.RestoredSnapshots),
                    stack.Dns is null ? null : Text(outputs, StackOutputs.ActiveStack)));
            }
        }
        catch (Exception e) when (e is PulumiCommandException or PulumiNotFoundException or PulumiTimeoutException or InvalidOperationException)
        {
            log.Warning("Stack files not compared with the deployed stacks: {Error}", e.Message);
            return $"the stack files could not be compared with what is deployed ({e.Message})";
        }
        var differences = StaleCheckout.Compare(topology, deployed);
        log.Information("Checkout compared with {Deployed} deployed stacks: {Differences} differences", deployed.Count, differences.Count);
        if (differences.Count > 0) throw new StaleCheckoutException(differences);
        return null;
    }

    private static string? Text(IReadOnlyDictionary<string, StackOutput> outputs, string key) =>
        outputs.TryGetValue(key, out var v) && v.Value.ValueKind == JsonValueKind.String ? v.Text : null;

    /// <summary>An output that is a map of names to strings (serverAddresses, stackFiles), its string values only; null when there is none.</summary>
    internal static IReadOnlyDictionary<string, string>? Map(IReadOnlyDictionary<string, StackOutput> outputs, string key) =>
        outputs.TryGetValue(key, out var v) && v.Value.ValueKind == JsonValueKind.Object
            ? v.Value.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).ToDictionary(p => p.Name, p => p.Value.GetString()!)
            : null;

    /// <summary>The stack files' contents now, to tell afterwards which ones a run changed.</summary>
    public static IReadOnlyDictionary<string, string> Snapshot(Topology topology) =>
        Directory.GetFiles(topology.StacksDirectory, "Pulumi.*.y*ml")
            .ToDictionary(f => f, f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>The stack files changed, added or removed since <paramref name="before"/>.</summary>
    public static IReadOnlyList<string> Changed(Topology topology, IReadOnlyDictionary<string, string> before)
    {
        var after = Snapshot(topology);
        return before.Keys.Union(after.Keys).Where(f => before.GetValueOrDefault(f) != after.GetValueOrDefault(f))
            .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
    }
}
