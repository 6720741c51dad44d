using Failover.Driver.Dns;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Dns;

[Collection(PowerDnsCollection.Name)]
public sealed class Rfc2136CutoverTests(PowerDnsServer server) : AgainstPowerDns(server)
{
    private async Task<(string Zone, TsigKey Key)> SignedZoneAsync()
    {
        var zone = NewZone("u");
        await Server.CreateZoneAsync(zone, ("app", "A", [OldPrimary]), ("db", "A", [OldPrimary]));
        var keyName = "failover-" + zone;
        return (zone, new TsigKey(keyName, await Server.AllowSignedUpdatesAsync(zone, keyName)));
    }

    [Fact]
    public async Task A_signed_update_points_the_record_twice_harmlessly_and_fencing_removes_it()
    {
        var (zone, key) = await SignedZoneAsync();
        var cutover = new Rfc2136Cutover(Server.Dns, key, Logs.Secrets, Logs.Logger);
        var change = new[] { new RecordSet("app", "A", [NewSite], 60) };

        await cutover.PointAsync(zone, change, CancellationToken.None);
        await cutover.PointAsync(zone, change, CancellationToken.None);
        var pointed = await new AuthoritativeCheck(Dns, TimeProvider.System, Logs.Logger)
            .WaitUntilVisibleAsync(zone, change, [Server.Dns], TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.True(pointed.Visible, pointed.Summary);
        Assert.Equal([NewSite], await AnswerAsync(zone));

        await cutover.RemoveAsync(zone, [new RecordKey("db", "A")], CancellationToken.None);
        Assert.Empty(await AnswerAsync(zone, "db"));
        Assert.DoesNotContain(key.Base64Secret, Logs.Everything());
    }

    [Fact]
    public async Task A_wrong_tsig_secret_is_refused_naming_the_key_to_check_and_changes_nothing()
    {
        var (zone, key) = await SignedZoneAsync();
        var forged = new TsigKey(key.Name, Convert.ToBase64String(new byte[32]));
        var cutover = new Rfc2136Cutover(Server.Dns, forged, Logs.Secrets, Logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains("refused the update", error.Message);
        Assert.Contains($"signed with TSIG key {key.Name}", error.Message);
        Assert.Contains("same secret", error.Message);
        Assert.DoesNotContain(forged.Base64Secret, Logs.Everything());
        Assert.Equal([OldPrimary], await AnswerAsync(zone));
    }

    [Fact]
    public async Task An_unsigned_update_of_a_zone_that_requires_a_key_is_refused_and_changes_nothing()
    {
        var (zone, _) = await SignedZoneAsync();
        var cutover = new Rfc2136Cutover(Server.Dns, null, Logs.Secrets, Logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync(zone, [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.StartsWith($"DNS not changed: the DNS server {Server.Dns} refused the update", error.Message);
        Assert.Contains("(unsigned): sign it with the zone's TSIG key", error.Message);
        Assert.Equal([OldPrimary], await AnswerAsync(zone));
    }

    [Fact]
    public async Task ADns_server_that_is_not_running_is_named_in_the_error()
    {
        var down = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, Processes.ClosedPort());
        var cutover = new Rfc2136Cutover(down, null, Logs.Secrets, Logs.Logger);

        var error = await Assert.ThrowsAsync<DnsCutoverException>(() =>
            cutover.PointAsync("drill.test", [new RecordSet("app", "A", [NewSite], 60)], CancellationToken.None));

        Assert.Contains($"the DNS server {down} cannot be reached over TCP", error.Message);
        Assert.Contains("connection refused", error.Message);
    }
}
