namespace Failover.Driver.Dns;

/// <summary>The addresses one service record should have after the cutover, e.g. app A → 203.0.113.7.</summary>
/// <param name="Name">Record name relative to the zone ("app", "@") or absolute ("app.example.com.").</param>
/// <param name="Type">Record type as DNS spells it ("A", "AAAA", "CNAME").</param>
/// <param name="Values">The record data: addresses, or a target name for CNAME.</param>
public sealed record RecordSet(string Name, string Type, IReadOnlyList<string> Values, int TtlSeconds);

/// <summary>Points a zone's service records at new addresses; the edge the cutover step calls. A fence never removes records: the cutover repoints them.</summary>
public interface IDnsCutover
{
    /// <summary>Replaces each record set's data in one change; applying the same change again is harmless.</summary>
    Task PointAsync(string zone, IReadOnlyList<RecordSet> records, CancellationToken cancellation);
}

/// <summary>A DNS change was not applied; the message says why and what to check. Nothing was changed by the failed call.</summary>
public sealed class DnsCutoverException(string message, Exception? inner = null) : Exception(message, inner);
