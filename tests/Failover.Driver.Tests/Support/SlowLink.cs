using System.Net;
using System.Net.Sockets;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// A TCP relay on 127.0.0.1 whose answers reach the client a fixed delay late: a slow or loaded server as its clients
/// see it. Each accepted connection gets its own connection to the target; bytes are relayed unchanged.
/// </summary>
public sealed class SlowLink : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly TimeSpan _answerDelay;

    public SlowLink(Uri target, TimeSpan answerDelay)
    {
        (_targetHost, _targetPort, _answerDelay) = (target.Host, target.Port, answerDelay);
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>The relay's address as an http endpoint URL (the S3 gateway here speaks plain http).</summary>
    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
                var (fromClient, fromServer) = (client.GetStream(), server.GetStream());
                await Task.WhenAny(CopyAsync(fromClient, fromServer, TimeSpan.Zero), CopyAsync(fromServer, fromClient, _answerDelay));
            }
            catch (Exception) { /* a connection closed by either side ends its relay */ }
        }
    }

    private async Task CopyAsync(Stream from, Stream to, TimeSpan delay)
    {
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay, _stop.Token);
            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
