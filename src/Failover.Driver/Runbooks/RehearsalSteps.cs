using System.Net;
using Failover.Core.Planning;
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
    public const string Suffix = "-rehearsal";

    public static IReadOnlyList<IStep> For(Topology topology, StackSpec rehearsal, RunPorts ports, LocalSites sites, string reportDirectory) =>
        For(topology, rehearsal, new Lazy<RunPorts>(ports), sites, reportDirectory);

    private static IReadOnlyList<IStep> For(Topology topology, StackSpec rehearsal, Lazy<RunPorts> ports, LocalSites sites, string reportDirectory) =>
    [
        new FailoverSteps.SelectBackup(topology, ports),
        new FailoverSteps.Provision(rehearsal, ports),
        new FailoverSteps.Restore(topology, rehearsal, ports),
        new FailoverSteps.Gate(rehearsal, ports),
        new FailoverSteps.Report(topology, reportDirectory),
        Teardown(rehearsal, sites),
    ];

    public static IStep Teardown(StackSpec rehearsal, LocalSites sites) => new TeardownStep(rehearsal, sites);

    /// <summary>The standby a rehearsal stack copies, from its name.</summary>
    public static string StandbyOf(string rehearsalStack) =>
        rehearsalStack.EndsWith(Suffix, StringComparison.Ordinal) ? rehearsalStack[..^Suffix.Length] : rehearsalStack;

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
        return standby with { Name = standby.Name + Suffix, Role = Role.Rehearsal, Site = standby.Site with { Address = address } };
    }

    /// <summary>Stops the copy's database and removes its folder; safe to repeat, and run after any failure.</summary>
    private sealed class TeardownStep(StackSpec rehearsal, LocalSites sites) : IStep
    {
        public StepKind Kind => StepKind.Teardown;
        public string Describe(RunContext run) => $"stop {rehearsal.Name} and remove {sites.StateDirectory}";

        public async Task<StepResult> ExecuteAsync(StepContext c, CancellationToken ct)
        {
            var summary = await c.Once($"teardown:{rehearsal.Name}", async x =>
            {
                await sites.RemoveAllAsync([rehearsal], x);
                // The parent holds one folder per live rehearsal: the last one out leaves no empty folder behind.
                var parent = Path.GetDirectoryName(sites.StateDirectory)!;
                if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
                return System.Text.Json.Nodes.JsonValue.Create($"{rehearsal.Name} stopped on {LocalSites.Address(rehearsal)}; {sites.StateDirectory} removed");
            }, ct);
            return new StepResult((string?)summary ?? "torn down");
        }
    }
}
