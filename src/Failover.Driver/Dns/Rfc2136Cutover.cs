using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Dns;

/// <summary>A TSIG key (RFC 8945, HMAC-SHA256) shared with the DNS server to sign updates; the secret is never printed.</summary>
public sealed class TsigKey(string name, string base64Secret)
{
    public string Name { get; } = DnsName.Absolute(name);
    internal byte[] Secret { get; } = Convert.FromBase64String(base64Secret);
    internal string Base64Secret { get; } = base64Secret;
    public override string ToString() => $"TSIG key {Name}";
}

/// <summary>
/// The cutover through standard DNS dynamic updates (RFC 2136), for any server that accepts them (PowerDNS with
/// dnsupdate=yes, BIND, Knot). Each call is one UPDATE message, which the server applies atomically; sent over
/// TCP so that large record sets are never truncated. The response's signature is not checked: the verification
/// step asks the authoritative servers independently, and that is what proves the change.
/// </summary>
public sealed class Rfc2136Cutover : IDnsCutover
{
    private const ushort ClassIn = 1, ClassAny = 255, TypeSoa = 6, TypeTsig = 250;
    private const ushort OpcodeUpdate = 5 << 11;
    private const ushort FudgeSeconds = 300;
    private const string Algorithm = "hmac-sha256.";

    private readonly IPEndPoint _server;
    private readonly TsigKey? _key;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly ILogger _log;

    /// <param name="server">The primary server that accepts updates for the zone.</param>
    /// <param name="key">The TSIG key; null sends unsigned updates (only for servers that allow them by address).</param>
    public Rfc2136Cutover(IPEndPoint server, TsigKey? key, SecretRegistry secrets, ILogger log, TimeProvider? time = null, TimeSpan? timeout = null)
    {
        if (key is not null) secrets.Add(key.Base64Secret);
        _server = server;
        _key = key;
        _time = time ?? TimeProvider.System;
        _timeout = timeout ?? TimeSpan.FromSeconds(10);
        _log = log.ForContext<Rfc2136Cutover>();
    }

    public Task PointAsync(string zone, IReadOnlyList<RecordSet> records, CancellationToken cancellation) =>
        UpdateAsync(zone, "cutover", records, cancellation);

    public Task RemoveAsync(string zone, IReadOnlyList<RecordKey> records, CancellationToken cancellation) =>
        UpdateAsync(zone, "fence", records.Select(r => new RecordSet(r.Name, r.Type, [], 0)).ToList(), cancellation);

    /// <summary>Deletes each record set and adds its new values in the same message: the server applies them in order, all or nothing.</summary>
    private async Task UpdateAsync(string zone, string step, IReadOnlyList<RecordSet> sets, CancellationToken cancellation)
    {
        var apex = DnsName.Absolute(zone);
        var log = _log.ForContext("Step", step).ForContext("Zone", apex);
        var id = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
        var updates = new List<byte>();
        var count = 0;
        foreach (var set in sets)
        {
            var name = DnsName.InZone(set.Name, apex);
            var type = TypeCode(set.Type);
            DnsMessage.WriteName(updates, name);
            DnsMessage.WriteUInt16(updates, type, ClassAny);
            DnsMessage.WriteUInt32(updates, 0);
            DnsMessage.WriteUInt16(updates, 0);
            count++;
            foreach (var value in set.Values)
            {
                var data = Rdata(type, value);
                DnsMessage.WriteName(updates, name);
                DnsMessage.WriteUInt16(updates, type, ClassIn);
                DnsMessage.WriteUInt32(updates, (uint)set.TtlSeconds);
                DnsMessage.WriteUInt16(updates, (ushort)data.Length);
                updates.AddRange(data);
                count++;
            }
        }
        var message = new List<byte>();
        DnsMessage.WriteUInt16(message, id, OpcodeUpdate, 1, 0, (ushort)count, 0);
        DnsMessage.WriteName(message, apex);
        DnsMessage.WriteUInt16(message, TypeSoa, ClassIn);
        message.AddRange(updates);
        if (_key is not null) Sign(message, id, _key);

        DnsResponse response;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(_timeout);
        try
        {
            response = DnsMessage.Parse(await WireDnsClient.ExchangeOverTcpAsync(_server, message.ToArray(), limit.Token));
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw Failed(log, $"the DNS server {_server} did not answer the update within {_timeout.TotalSeconds:0}s: check that it runs and serves TCP");
        }
        catch (SocketException e)
        {
            throw Failed(log, $"the DNS server {_server} cannot be reached over TCP ({WireDnsClient.Describe(e)}): check the address and that the server runs", e);
        }
        catch (Exception e) when (e is FormatException or DnsQueryException)
        {
            throw Failed(log, $"the DNS server {_server} sent an unreadable answer to the update: {e.Message}", e);
        }

        if (response.Code == ResponseCode.NoError && response.Id == id)
        {
            foreach (var set in sets)
                log.Information("DNS update {Record} {Type} in {Zone}: {Values}", DnsName.InZone(set.Name, apex), set.Type, apex,
                    set.Values.Count == 0 ? "(removed)" : string.Join(", ", set.Values));
            return;
        }
        throw Failed(log, Reason(response, apex));
    }

    private string Reason(DnsResponse response, string apex)
    {
        var tsigError = TsigError(response);
        var key = _key?.Name ?? "(none)";
        return (response.Code, tsigError) switch
        {
            (_, 16) => $"the DNS server {_server} rejected the update's signature (BADSIG): the secret of TSIG key {key} differs from the server's",
            (_, 17) => $"the DNS server {_server} does not know TSIG key {key} (BADKEY): import it on the server",
            (_, 18) => $"the DNS server {_server} rejected the update's time (BADTIME): the clocks differ by more than {FudgeSeconds}s",
            // PowerDNS answers a bad signature with a bare REFUSED, so the key is named here too.
            (ResponseCode.Refused, _) => $"the DNS server {_server} refused the update of zone {apex} " +
                (_key is null ? "(unsigned): sign it with the zone's TSIG key, or allow updates from this address"
                    : $"signed with TSIG key {key}: check that the server has this key with the same secret and allows it for the zone") +
                " (PowerDNS: dnsupdate=yes, allow-dnsupdate-from, zone metadata TSIG-ALLOW-DNSUPDATE; BIND: update-policy)",
            (ResponseCode.NotImplemented, _) => $"the DNS server {_server} does not accept dynamic updates (RFC 2136): enable them (PowerDNS: dnsupdate=yes)",
            (ResponseCode.NotAuth, _) => $"the DNS server {_server} is not authoritative for zone {apex}, or does not accept key {key} for it",
            (ResponseCode.NotZone, _) => $"a record of the update is outside zone {apex}",
            _ => $"the DNS server {_server} answered the update of zone {apex} with {response.Code}",
        };
    }

    private DnsCutoverException Failed(ILogger log, string reason, Exception? inner = null)
    {
        log.Error("DNS change not applied: {Reason}", reason);
        return new DnsCutoverException($"DNS not changed: {reason}", inner);
    }

    /// <summary>Appends a TSIG record (RFC 8945 §4.2) whose MAC covers the message and the TSIG variables.</summary>
    private void Sign(List<byte> message, ushort id, TsigKey key)
    {
        var now = (ulong)_time.GetUtcNow().ToUnixTimeSeconds();
        var signed = new List<byte>(message);
        DnsMessage.WriteName(signed, key.Name);
        DnsMessage.WriteUInt16(signed, ClassAny);
        DnsMessage.WriteUInt32(signed, 0);
        DnsMessage.WriteName(signed, Algorithm);
        WriteTime(signed, now);
        DnsMessage.WriteUInt16(signed, FudgeSeconds, 0, 0); // fudge, error, other length
        var mac = HMACSHA256.HashData(key.Secret, signed.ToArray());

        var rdata = new List<byte>();
        DnsMessage.WriteName(rdata, Algorithm);
        WriteTime(rdata, now);
        DnsMessage.WriteUInt16(rdata, FudgeSeconds, (ushort)mac.Length);
        rdata.AddRange(mac);
        DnsMessage.WriteUInt16(rdata, id, 0, 0); // original id, error, other length

        DnsMessage.WriteName(message, key.Name);
        DnsMessage.WriteUInt16(message, TypeTsig, ClassAny);
        DnsMessage.WriteUInt32(message, 0);
        DnsMessage.WriteUInt16(message, (ushort)rdata.Count);
        message.AddRange(rdata);
        message[11] = 1; // ARCOUNT: the TSIG record
    }

    private static void WriteTime(List<byte> buffer, ulong seconds) =>
        DnsMessage.WriteUInt16(buffer, (ushort)(seconds >> 32), (ushort)(seconds >> 16), (ushort)seconds);

    /// <summary>The TSIG error code of a signed response (0 when none): it tells a bad key from a bad signature.</summary>
    private static int TsigError(DnsResponse response)
    {
        var tsig = response.Additional.FirstOrDefault(r => r.Type == TypeTsig);
        if (tsig is null) return 0;
        var rdata = Convert.FromHexString(tsig.Data);
        var offset = 0;
        while (offset < rdata.Length && rdata[offset] != 0) offset += rdata[offset] + 1; // algorithm name, uncompressed
        offset += 1 + 6 + 2; // root label, time signed, fudge
        if (offset + 2 > rdata.Length) return 0;
        offset += 2 + (rdata[offset] << 8 | rdata[offset + 1]) + 2; // MAC size, MAC, original id
        return offset + 2 > rdata.Length ? 0 : rdata[offset] << 8 | rdata[offset + 1];
    }

    private static ushort TypeCode(string type) => Enum.TryParse<RecordType>(type, ignoreCase: true, out var t) && t is RecordType.A or RecordType.AAAA or RecordType.CNAME
        ? (ushort)t
        : throw new ArgumentException($"record type {type}: only A, AAAA and CNAME records follow the active site");

    private static byte[] Rdata(ushort type, string value)
    {
        if (type == (ushort)RecordType.CNAME)
        {
            var name = new List<byte>();
            DnsMessage.WriteName(name, value);
            return name.ToArray();
        }
        var family = type == (ushort)RecordType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        return IPAddress.TryParse(value, out var ip) && ip.AddressFamily == family
            ? ip.GetAddressBytes()
            : throw new ArgumentException($"'{value}' is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
    }
}
