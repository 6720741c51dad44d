using Failover.Driver.Dns;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

/// <summary>What the cutover tests share: the running server, captured logs, a DNS client, and a fresh zone per test.</summary>
public abstract class AgainstPowerDns(PowerDnsServer server) : IDisposable
{
    protected const string OldPrimary = "192.0.2.10";
    protected const string NewSite = "198.51.100.7";

    protected PowerDnsServer Server { get; } = server;
    internal LogCapture Logs { get; } = new();
    protected WireDnsClient Dns { get; } = new();

    public void Dispose() => Logs.Dispose();

    /// <summary>A zone name no other test uses, so tests sharing the server never see each other's records.</summary>
    protected static string NewZone(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..12] + ".test";

    /// <summary>What the server itself answers for a name's A record right now.</summary>
    protected async Task<IReadOnlyList<string>> AnswerAsync(string zone, string name = "app") =>
        (await Dns.QueryAsync(Server.Dns, $"{name}.{zone}", RecordType.A, CancellationToken.None)).DataOf($"{name}.{zone}", RecordType.A);
}
