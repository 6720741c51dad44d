using Failover.Driver.Dns;

namespace Failover.Driver.Tests.Dns;

public sealed class DnsMessageTests
{
    [Fact]
    public void A_response_whose_name_pointers_loop_is_rejected_instead_of_hanging()
    {
        // Header: response, 1 answer; the answer's name is a pointer to itself (offset 12).
        byte[] message = [0, 1, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];

        var error = Assert.Throws<FormatException>(() => DnsMessage.Parse(message));
        Assert.Contains("loops", error.Message);
    }

    [Fact]
    public void Compressed_names_in_answers_are_expanded()
    {
        var query = DnsMessage.Query(7, "app.drill.test", RecordType.A);
        // Answer for the question name via a pointer to offset 12, A 198.51.100.7.
        byte[] answer = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7];
        var message = query.Concat(answer).ToArray();
        message[2] = 0x84; // QR and AA
        message[7] = 1;    // ANCOUNT

        var response = DnsMessage.Parse(message);

        Assert.True(response.Authoritative);
        Assert.Equal(["198.51.100.7"], response.DataOf("APP.drill.test.", RecordType.A));
    }
}
