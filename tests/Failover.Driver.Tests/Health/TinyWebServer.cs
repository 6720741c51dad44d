using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Failover.Driver.Tests.Health;

/// <summary>A one-page HTTP/1.1 server on 127.0.0.1 that answers every request with a set status and body, and remembers the Host asked for.</summary>
internal sealed class TinyWebServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    public TinyWebServer(int status, string body)
    {
        Status = status;
        Body = body;
        _listener.Start();
        _serving = ServeAsync();
    }

    public int Status { get; set; }
    public string Body { get; set; }
    public string? LastHost { get; private set; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public Uri Url => new($"http://127.0.0.1:{Port}/health");

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            using (client)
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
                string? line;
                while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                    if (line.StartsWith("Host:", StringComparison.OrdinalIgnoreCase)) LastHost = line[5..].Trim();
                var body = Encoding.UTF8.GetBytes(Body);
                var head = $"HTTP/1.1 {Status} {(Status == 200 ? "OK" : "Status")}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
                await stream.WriteAsync(body);
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _serving.Wait(TimeSpan.FromSeconds(5));
    }
}
