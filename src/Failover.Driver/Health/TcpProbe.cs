using System.Net.Sockets;

namespace Failover.Driver.Health;

/// <summary>Connects to a port: the service behind it accepts connections (it says nothing about what it serves).</summary>
public sealed class TcpProbe(string host, int port, TimeSpan? timeout = null) : IHealthProbe
{
    private readonly TimeSpan _timeout = timeout ?? Core.Planning.RuntimeOptions.Default.TcpProbe;

    public string Name => $"tcp {host}:{port}";

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellation)
    {
        using var client = new TcpClient();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(_timeout);
        try
        {
            await client.ConnectAsync(host, port, limit.Token);
            return ProbeResult.Pass("connected");
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return ProbeResult.Fail($"no connection within {_timeout.TotalSeconds:0.#}s (a firewall dropping packets, or the host is down)");
        }
        catch (SocketException e)
        {
            return ProbeResult.Fail(Network.Describe(e));
        }
    }
}

/// <summary>Socket errors in the words an operator acts on.</summary>
internal static class Network
{
    public static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused: nothing listens on that port (service down or wrong port)",
        SocketError.HostNotFound or SocketError.NoData => "host name not found",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable: check routes and firewall",
        SocketError.TimedOut => "connection timed out",
        _ => e.Message,
    };
}
