using Failover.Driver.Dns;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

[Collection(PowerDnsCollection.Name)]
public sealed class Rfc2136CutoverTests(PowerDnsServer server) : IDisposable
{
    private const string OldPrimary = "192.0.2.10";
    private const string NewSite = "198.51.100.7";

    private readonly LogCapture _logs = new();
    private readonly UdpDnsClient _dns = new();

    public void Dispose() => _logs.Dispose();

    private async Task<(string Zone, TsigKey Key)> SignedZoneAsync()
    {
        var zone = $"u{Guid.NewGuid():N}"[..12] + ".test";
        await server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]), ("db", "A", [OldPrimary]));
        var keyName = "failover-" + zone;
        return (zone, new TsigKey(keyName, await server.AllowSignedUpdatesAsync(zone, keyName)));
    }

    private async Task<IReadOnlyList<string>> AnswerAsync(string zone, string name = "app") =>
        (await _dns.QueryAsync(server.Dns, $"{name}.{zone}", RecordType.A, CancellationToken.None)).DataOf($"{name}.{zone}", RecordType.A);

    [Fact]
    public async Task A_signed_update_points_the_record_twice_harmlessly_and_fencing_removes_it()
    {
        var (zone, key) = await SignedZoneAsync();
        var cutover = new Rfc2136Cutover(server.Dns, key, _logs.Secrets, _logs.Logger);
        var change = new[] { new RecordSet("app", "A", [NewSite], 60) };

        await cutover.PointAsync(zone, change, CancellationToken.None);
        await cutover.PointAsync(zone, change, CancellationToken.None);
        var pointed = await new AuthoritativeCheck(_dns, TimeProvider.System, _logs.Logger)
            .WaitUntilVisibleAsync(zone, change, [server.Dns], TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.True(pointed.Visible, pointed.Summary);
        Assert.Equal([NewSite], await AnswerAsync(zone));

        await cutover.RemoveAsync(zone, [new RecordKey("db", "A")], CancellationToken.None);
        Assert.Empty(await AnswerAsync(zone, "db"));
        Assert.DoesNotContain(key.Base64Secret, _logs.Everything());
    }

    [Fact]
    public async Task A_wrong_tsig_secret_is_refused_naming_the_key_to_check_and_changes_nothing()
    {
        var (zone, key) = await SignedZoneAsync();
        var forged = new TsigKey(key.Name, Convert.ToBase64String(new byte[32]));
        var cutover = new Rfc2136Cutover(server.Dns, forged, _logs.Secrets, _logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains("refused the update", error.Message);
        Assert.Contains($"signed with TSIG key {key.Name}", error.Message);
        Assert.Contains("same secret", error.Message);
        Assert.DoesNotContain(forged.Base64Secret, _logs.Everything());
        Assert.Equal([OldPrimary], await AnswerAsync(zone));
    }

    [Fact]
    public async Task An_unsigned_update_of_a_zone_that_requires_a_key_is_refused_and_changes_nothing()
    {
        var (zone, _) = await SignedZoneAsync();
        var cutover = new Rfc2136Cutover(server.Dns, null, _logs.Secrets, _logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.StartsWith($"DNS not changed: the DNS server {server.Dns} refused the update", error.Message);
        Assert.Contains("(unsigned): sign it with the zone's TSIG key", error.Message);
        Assert.Equal([OldPrimary], await AnswerAsync(zone));
    }

    [Fact]
    public async Task A_dns_server_that_is_not_running_is_named_in_the_error()
    {
        var down = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, Processes.ClosedPort());
        var cutover = new Rfc2136Cutover(down, null, _logs.Secrets, _logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync("drill.test", [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains($"the DNS server {down} cannot be reached over TCP", error.Message);
        Assert.Contains("connection refused", error.Message);
    }
}
