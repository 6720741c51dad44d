using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Failover.Driver.Dns;

/// <summary>Asks one DNS server one question, the way a resolver would ask an authoritative server.</summary>
public interface IDnsClient
{
    /// <summary>The server's response; unreachable or silent servers raise <see cref="DnsQueryException"/>.</summary>
    Task<DnsResponse> QueryAsync(IPEndPoint server, string name, RecordType type, CancellationToken cancellation);
}

/// <summary>A question could not be answered: the server is silent, unreachable or sent garbage.</summary>
public sealed class DnsQueryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A minimal stub for authoritative questions: UDP first (RFC 1035 §4.2.1), TCP when the answer
/// does not fit (TC bit), no recursion desired, no caching.
/// </summary>
/// <remarks>
/// Kept instead of DnsClient (served here): the cutover check must see one authoritative server's own answer,
/// its silence or its garbage, and DnsClient's LookupClient is a resolver (a cache, retries and fall-over between
/// the servers it is given) that would have to be turned off piece by piece and could still hide a silent server
/// behind another. This stub is small and tested against a real PowerDNS (DnsMessageTests, PowerDnsCutoverTests).
/// </remarks>
public sealed class WireDnsClient(TimeSpan? timeout = null) : IDnsClient
{
    private readonly TimeSpan _timeout = timeout ?? Core.Planning.RuntimeOptions.Default.DnsQuery;

    public async Task<DnsResponse> QueryAsync(IPEndPoint server, string name, RecordType type, CancellationToken cancellation)
    {
        var id = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
        var query = DnsMessage.Query(id, name, type);
        var response = await OverUdpAsync(server, query, id, name, type, cancellation);
        return response.Truncated ? await OverTcpAsync(server, query, id, name, type, cancellation) : response;
    }

    private async Task<DnsResponse> OverUdpAsync(IPEndPoint server, byte[] query, ushort id, string name, RecordType type, CancellationToken cancellation)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(_timeout);
        var buffer = new byte[65535];
        try
        {
            await socket.ConnectAsync(server, timeout.Token);
            await socket.SendAsync(query, SocketFlags.None, timeout.Token);
            while (true)
            {
                var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                var response = Parse(buffer.AsSpan(0, length), server, name, type);
                // Late answers to earlier questions on a reused port are not ours: keep listening.
                if (response.Id == id) return response;
            }
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new DnsQueryException($"{server} did not answer {name} {type} over UDP within {_timeout.TotalSeconds:0.#}s");
        }
        catch (SocketException e)
        {
            throw new DnsQueryException($"{server} cannot be asked {name} {type} over UDP: {Describe(e)}", e);
        }
    }

    private async Task<DnsResponse> OverTcpAsync(IPEndPoint server, byte[] query, ushort id, string name, RecordType type, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(_timeout);
        try
        {
            var response = Parse(await ExchangeOverTcpAsync(server, query, timeout.Token), server, name, type);
            if (response.Id != id) throw new DnsQueryException($"{server} answered {name} {type} over TCP with a different query id");
            if (response.Truncated) throw new DnsQueryException($"{server} sent a truncated answer to {name} {type} even over TCP");
            return response;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new DnsQueryException($"{server} truncated its UDP answer to {name} {type} and did not answer over TCP within {_timeout.TotalSeconds:0.#}s");
        }
        catch (SocketException e)
        {
            throw new DnsQueryException($"{server} truncated its UDP answer to {name} {type} and cannot be asked over TCP: {Describe(e)}", e);
        }
    }

    /// <summary>One message out and one back over TCP, each framed by its 2-byte length (RFC 1035 §4.2.2).</summary>
    internal static async Task<byte[]> ExchangeOverTcpAsync(IPEndPoint server, byte[] message, CancellationToken cancellation)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server, cancellation);
        var framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, cancellation);
        var prefix = new byte[2];
        await ReceiveExactlyAsync(socket, prefix, cancellation);
        var answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await ReceiveExactlyAsync(socket, answer, cancellation);
        return answer;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellation)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellation);
            if (n == 0) throw new DnsQueryException("the server closed the TCP connection before the whole answer arrived");
            read += n;
        }
    }

    private static DnsResponse Parse(ReadOnlySpan<byte> message, IPEndPoint server, string name, RecordType type)
    {
        try { return DnsMessage.Parse(message); }
        catch (FormatException e) { throw new DnsQueryException($"{server} sent an unreadable answer to {name} {type}: {e.Message}", e); }
    }

    internal static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused (nothing listens on that port)",
        _ => e.Message,
    };
}
