namespace Failover.Core.Planning;

/// <summary>
/// The DNS rule of a planned migration: the service records' TTL goes down to 60 s first, and the cutover waits
/// until every answer cached with the old TTL has expired, so that customers follow the cutover within a minute.
/// </summary>
public static class MigrationTtl
{
    /// <summary>The TTL the records carry from the lowering until the old site is scaled down.</summary>
    public const int LoweredSeconds = 60;

    /// <summary>The TTL during the migration: 60 s, or the old one when it is already lower.</summary>
    public static int During(int oldTtlSeconds) => Math.Min(oldTtlSeconds, LoweredSeconds);

    /// <summary>When no resolver can still hold an answer cached with the old TTL: the lowering plus the old TTL (at once if nothing was lowered).</summary>
    public static DateTimeOffset SafeFrom(DateTimeOffset loweredAt, int oldTtlSeconds) =>
        oldTtlSeconds <= LoweredSeconds ? loweredAt : loweredAt + TimeSpan.FromSeconds(oldTtlSeconds);
}
