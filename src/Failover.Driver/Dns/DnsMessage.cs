using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Failover.Driver.Dns;

/// <summary>The record types the driver asks for (RFC 1035 and RFC 3596 codes).</summary>
public enum RecordType : ushort { A = 1, NS = 2, CNAME = 5, SOA = 6, AAAA = 28 }

/// <summary>A server's response code (RFC 1035 §4.1.1).</summary>
public enum ResponseCode : byte { NoError = 0, FormatError = 1, ServerFailure = 2, NameError = 3, NotImplemented = 4, Refused = 5, NotAuth = 9, NotZone = 10 }

/// <summary>One resource record of an answer: its owner, type, TTL and its data as text (address or name).</summary>
public sealed record ResourceRecord(string Name, ushort Type, uint Ttl, string Data);

/// <summary>A parsed DNS response: what one server said about one question.</summary>
public sealed record DnsResponse(
    ushort Id,
    ResponseCode Code,
    bool Authoritative,
    bool Truncated,
    IReadOnlyList<ResourceRecord> Answers,
    IReadOnlyList<ResourceRecord> Authority,
    IReadOnlyList<ResourceRecord> Additional)
{
    /// <summary>The data of the answers of one type for one owner name (CNAME chains are not followed: authoritative answers are asked for the exact name).</summary>
    public IReadOnlyList<string> DataOf(string name, RecordType type) => Answers
        .Where(r => r.Type == (ushort)type && DnsName.Same(r.Name, name))
        .Select(r => r.Data)
        .ToList();
}

/// <summary>Encoding of queries and decoding of responses in the RFC 1035 wire format.</summary>
public static class DnsMessage
{
    private const int HeaderLength = 12;

    /// <summary>A query for one name and type, recursion not desired: the server must answer from its own data.</summary>
    public static byte[] Query(ushort id, string name, RecordType type)
    {
        var buffer = new List<byte>(HeaderLength + name.Length + 6);
        // Flags all zero: standard query, RD=0. QDCOUNT=1.
        WriteUInt16(buffer, id, 0, 1, 0, 0, 0);
        WriteName(buffer, name);
        WriteUInt16(buffer, (ushort)type, 1); // class IN
        return buffer.ToArray();
    }

    /// <summary>Appends 16-bit big-endian values.</summary>
    internal static void WriteUInt16(List<byte> buffer, params ushort[] values)
    {
        foreach (var v in values) buffer.AddRange([(byte)(v >> 8), (byte)v]);
    }

    /// <summary>Appends a name uncompressed and in lower case.</summary>
    internal static void WriteName(List<byte> buffer, string name)
    {
        foreach (var label in DnsName.Absolute(name).TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length > 63) throw new ArgumentException($"DNS label '{label}' is longer than 63 characters", nameof(name));
            buffer.Add((byte)bytes.Length);
            buffer.AddRange(bytes);
        }
        buffer.Add(0);
    }

    /// <summary>Decodes a response; a malformed one raises <see cref="FormatException"/>.</summary>
    public static DnsResponse Parse(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength) throw new FormatException($"DNS response of {message.Length} bytes is shorter than a header");
        var id = BinaryPrimitives.ReadUInt16BigEndian(message);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((flags & 0x8000) == 0) throw new FormatException("DNS message is a query, not a response");
        var counts = new int[4];
        for (var i = 0; i < 4; i++) counts[i] = BinaryPrimitives.ReadUInt16BigEndian(message[(4 + 2 * i)..]);
        var offset = HeaderLength;
        for (var i = 0; i < counts[0]; i++)
        {
            ReadName(message, ref offset);
            offset += 4;
        }
        var truncated = (flags & 0x0200) != 0;
        var sections = new List<ResourceRecord>[3];
        for (var s = 0; s < 3; s++)
        {
            sections[s] = new List<ResourceRecord>(counts[s + 1]);
            for (var i = 0; i < counts[s + 1]; i++)
            {
                if (!truncated)
                {
                    sections[s].Add(ReadRecord(message, ref offset));
                    continue;
                }
                // A truncated message may stop mid-record: keep what was complete, the caller asks again over TCP.
                try { sections[s].Add(ReadRecord(message, ref offset)); }
                catch (FormatException) { break; }
            }
        }
        return new DnsResponse(id, (ResponseCode)(flags & 0x000F), (flags & 0x0400) != 0, truncated,
            sections[0], sections[1], sections[2]);
    }

    private static ResourceRecord ReadRecord(ReadOnlySpan<byte> message, ref int offset)
    {
        var name = ReadName(message, ref offset);
        Need(message, offset, 10);
        var type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
        var ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(offset + 4)..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
        offset += 10;
        Need(message, offset, length);
        var rdata = message.Slice(offset, length);
        var data = (RecordType)type switch
        {
            RecordType.A when length == 4 => new IPAddress(rdata).ToString(),
            RecordType.AAAA when length == 16 => new IPAddress(rdata).ToString(),
            RecordType.NS or RecordType.CNAME => ReadNameAt(message, offset),
            _ => Convert.ToHexString(rdata),
        };
        offset += length;
        return new ResourceRecord(name, type, ttl, data);
    }

    private static string ReadNameAt(ReadOnlySpan<byte> message, int offset) => ReadName(message, ref offset);

    private static string ReadName(ReadOnlySpan<byte> message, ref int offset)
    {
        var labels = new StringBuilder();
        var position = offset;
        var jumped = false;
        // Compression pointers may chain; a bound stops loops in hostile or broken messages.
        for (var hops = 0; ; hops++)
        {
            if (hops > 127) throw new FormatException("DNS name compression loops");
            Need(message, position, 1);
            var length = message[position];
            if (length == 0)
            {
                if (!jumped) offset = position + 1;
                break;
            }
            if ((length & 0xC0) == 0xC0)
            {
                Need(message, position, 2);
                if (!jumped) offset = position + 2;
                jumped = true;
                position = BinaryPrimitives.ReadUInt16BigEndian(message[position..]) & 0x3FFF;
                continue;
            }
            Need(message, position + 1, length);
            labels.Append(Encoding.ASCII.GetString(message.Slice(position + 1, length))).Append('.');
            position += 1 + length;
        }
        return labels.Length == 0 ? "." : labels.ToString().ToLowerInvariant();
    }

    private static void Need(ReadOnlySpan<byte> message, int offset, int count)
    {
        if (offset + count > message.Length) throw new FormatException("DNS response ends in the middle of a record");
    }
}

/// <summary>Domain-name spelling: absolute names end with a dot, comparisons ignore case.</summary>
public static class DnsName
{
    public static string Absolute(string name) => name.EndsWith('.') ? name.ToLowerInvariant() : name.ToLowerInvariant() + ".";

    /// <summary>A record name as written in a stack file ("app", "@", or already absolute) inside a zone.</summary>
    public static string InZone(string name, string zone)
    {
        var apex = Absolute(zone);
        if (name is "@" or "") return apex;
        if (name.EndsWith('.')) return Absolute(name);
        var lower = name.ToLowerInvariant();
        // "app.drill.test" written without the final dot is already qualified.
        return lower == apex.TrimEnd('.') || lower.EndsWith("." + apex.TrimEnd('.')) ? lower + "." : $"{lower}.{apex}";
    }

    public static bool Same(string a, string b) => string.Equals(Absolute(a), Absolute(b), StringComparison.OrdinalIgnoreCase);
}
