using System.Net;
using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Local;

namespace Failover.Driver.Runbooks;

/// <summary>
/// The steps of `failover rehearse`: the failover's own steps on an isolated copy of a standby, without fence
/// or cutover (production and its DNS are never touched), then a teardown of the copy.
/// </summary>
public static class RehearsalSteps
{
    /// <param name="ports">The run's adapters, the provisioner being the copy's (<see cref="IRehearsalCopy.Provisioner"/>).</param>
    public static IReadOnlyList<IStep> For(Topology topology, IRehearsalCopy copy, Deferred<RehearsalPorts> ports, string reportDirectory) =>
    [
        new FailoverSteps.SelectBackup(topology, ports.Role(p => p.Vault)),
        new FailoverSteps.Provision(copy.Stack, ports.Role(p => p.Provisioner)),
        new FailoverSteps.Restore(topology, copy.Stack, ports.Role(p => p.Vault), ports.Role(p => p.Restorer)),
        new FailoverSteps.Gate(copy.Stack, ports.Role(p => p.Gate)),
        new FailoverSteps.Report(topology, reportDirectory),
        Teardown(copy),
    ];

    public static IStep Teardown(IRehearsalCopy copy) => new TeardownStep(copy);

    /// <summary>The rehearsal's compensation: a failed or interrupted rehearsal tears its copy down, and that ends the run.</summary>
    public static Compensation Compensation(IRehearsalCopy copy) =>
        new([Teardown(copy)], (result, _) => result.Outcome is RunOutcome.Failed or RunOutcome.Interrupted)
        {
            Say = "tearing the copy down after the failure",
            Completes = true,
        };

    /// <summary>
    /// The isolated copy of a local standby: its own name, role and loopback address. The address is the
    /// standby's last octet + 100 unless given, and may not be any site's of the topology.
    /// </summary>
    public static StackSpec LocalCopy(Topology topology, StackSpec standby, string? address)
    {
        if (address is null)
        {
            var ip = IPAddress.Parse(LocalSites.Address(standby)).GetAddressBytes();
            if (ip[3] + 100 > 254)
                throw new InvalidOperationException($"{standby.Name} is on {LocalSites.Address(standby)}: no free address 100 above it; give one with --address 127.0.0.N");
            ip[3] += 100;
            address = new IPAddress(ip).ToString();
        }
        if (!IPAddress.TryParse(address, out var parsed) || !IPAddress.IsLoopback(parsed))
            throw new InvalidOperationException($"--address {address} is not a loopback address (127.0.0.N)");
        if (topology.Stacks.FirstOrDefault(s => s.Site.Address == address) is { } taken)
            throw new InvalidOperationException($"{address} is the address of {taken.Name}: a rehearsal needs its own; give one with --address");
        var copy = RehearsalCopy.Of(topology, standby);
        return copy with { Site = copy.Site with { Address = address } };
    }

    /// <summary>Removes the copy; safe to repeat, and run after any failure.</summary>
    private sealed class TeardownStep(IRehearsalCopy copy) : IStep
    {
        public StepKind Kind => StepKind.Teardown;
        public string Describe(RunContext run) => $"remove {copy.Stack.Name}: {copy.Where}";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var summary = await c.Once(EffectKey.Teardown(copy.Stack.Name), async x => JsonValue.Create(await copy.RemoveAsync(x)), ct);
            return new StepResult((string?)summary ?? "torn down");
        }
    }
}
