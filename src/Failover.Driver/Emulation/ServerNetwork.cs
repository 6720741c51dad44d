using System.Net;

namespace Failover.Driver.Emulation;

/// <summary>
/// An emulated server's network: its own network namespace joined to the host by one veth pair, a /30 of
/// <paramref name="Block"/> (server <paramref name="Index"/> gets .4i+1 on the host side, .4i+2 inside).
/// <para>
/// Why a namespace per server and not the host's network with a loopback address each: the rendered user
/// data binds its services as on a real cloud server (PostgreSQL on its default port, the health endpoint
/// on every address), so on a shared network two servers collide on the health port, and PostgreSQL
/// silently moves to another port when the host already holds 5432. In its own namespace each server has
/// its own loopback and ports, and the driver reaches it at one address, as over the internet. The
/// namespace routes nowhere but to the host's end of its link (no default route, no forwarding): the user
/// data's packages are pre-installed in the root (<see cref="DebianRoot.UserDataPackages"/>).
/// </para>
/// </summary>
/// <param name="Block">The first address of a /24 the caller owns, e.g. 198.18.6.0 (RFC 2544's range for test networks, never routed).</param>
public sealed record ServerNetwork(IPAddress Block, int Index)
{
    public const int MaxServers = 64;

    /// <summary>More addresses of the server's interface, with their prefix (its address in the site's private network, say).</summary>
    public IReadOnlyList<string> SiteAddresses { get; init; } = [];

    public IPAddress HostAddress => Offset(4 * Index + 1);
    public IPAddress ServerAddress => Offset(4 * Index + 2);

    /// <summary>The namespace's name under /run/netns (unique per address, so two blocks never clash).</summary>
    public string Namespace => $"failover-{Octets[2]}-{4 * Index + 2}";

    /// <summary>The host's end of the link (interface names are at most 15 bytes).</summary>
    public string HostInterface => $"fo{Octets[2]}-{4 * Index + 2}";

    public string NamespacePath => $"/run/netns/{Namespace}";

    private byte[] Octets => Block.GetAddressBytes();

    private IPAddress Offset(int n)
    {
        if (Index is < 0 or >= MaxServers) throw new ArgumentOutOfRangeException(nameof(Index), $"a /24 holds {MaxServers} servers");
        var b = Octets;
        return new IPAddress(new[] { b[0], b[1], b[2], (byte)n });
    }

    /// <summary>Creates the namespace and the link; a half-made network is removed before the error is raised.</summary>
    public async Task CreateAsync(CancellationToken cancellation)
    {
        await RemoveAsync();
        try
        {
            await HostCommand.RunAsync("ip", ["netns", "add", Namespace], cancellation);
            await HostCommand.RunAsync("ip", ["link", "add", HostInterface, "type", "veth", "peer", "name", "eth0", "netns", Namespace], cancellation);
            await HostCommand.RunAsync("ip", ["addr", "add", $"{HostAddress}/30", "dev", HostInterface], cancellation);
            await HostCommand.RunAsync("ip", ["link", "set", HostInterface, "up"], cancellation);
            await HostCommand.RunAsync("ip", ["-n", Namespace, "link", "set", "lo", "up"], cancellation);
            await HostCommand.RunAsync("ip", ["-n", Namespace, "addr", "add", $"{ServerAddress}/30", "dev", "eth0"], cancellation);
            foreach (var address in SiteAddresses)
                await HostCommand.RunAsync("ip", ["-n", Namespace, "addr", "add", address, "dev", "eth0"], cancellation);
            await HostCommand.RunAsync("ip", ["-n", Namespace, "link", "set", "eth0", "up"], cancellation);
        }
        catch
        {
            await RemoveAsync();
            throw;
        }
    }

    /// <summary>Deletes the namespace (its end of the link goes with it) and the host's end; safe when absent.</summary>
    public async Task RemoveAsync()
    {
        if (File.Exists(NamespacePath)) await HostCommand.TryAsync("ip", "netns", "delete", Namespace);
        if (Directory.Exists($"/sys/class/net/{HostInterface}")) await HostCommand.TryAsync("ip", "link", "delete", HostInterface);
    }
}
