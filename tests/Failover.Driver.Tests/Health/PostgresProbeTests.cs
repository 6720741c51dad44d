using Failover.Driver.Health;
using Failover.Driver.Logging;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Health;

public sealed class PostgresProbeTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    private readonly SecretRegistry _secrets = new();

    [Fact]
    public async Task A_running_database_that_answers_the_query_is_healthy()
    {
        var result = await new PostgresProbe(cluster.ConnectionString, _secrets).ProbeAsync(CancellationToken.None);

        Assert.True(result.Healthy, result.Detail);
        Assert.Contains("returned 1", result.Detail);
    }

    [Fact]
    public async Task A_query_with_the_expected_value_passes_and_any_other_value_fails_saying_both()
    {
        const string query = "select count(*) from pg_database where datname = 'postgres'";

        var right = await new PostgresProbe(cluster.ConnectionString, _secrets, query, expected: "1").ProbeAsync(CancellationToken.None);
        var wrong = await new PostgresProbe(cluster.ConnectionString, _secrets, query, expected: "12").ProbeAsync(CancellationToken.None);

        Assert.True(right.Healthy, right.Detail);
        Assert.False(wrong.Healthy);
        Assert.Contains("returned 1, expected 12", wrong.Detail);
    }

    [Fact]
    public async Task A_failing_query_reports_the_database_error()
    {
        var result = await new PostgresProbe(cluster.ConnectionString, _secrets, "select count(*) from tenants").ProbeAsync(CancellationToken.None);

        Assert.False(result.Healthy);
        Assert.Contains("42P01", result.Detail);
        Assert.Contains("relation \"tenants\" does not exist", result.Detail);
    }

    [Fact]
    public async Task A_wrong_password_fails_without_showing_the_password()
    {
        const string wrong = "not-the-password-42";
        var probe = new PostgresProbe(cluster.ConnectionString.Replace(cluster.Password, wrong), _secrets);

        var result = await probe.ProbeAsync(CancellationToken.None);

        Assert.False(result.Healthy);
        Assert.Contains("28P01", result.Detail);
        Assert.DoesNotContain(wrong, result.Detail + probe.Name);
        Assert.Equal(RedactingSink.Mask, _secrets.Redact(wrong));
    }

    [Fact]
    public async Task A_database_that_is_down_is_reported_as_not_listening()
    {
        var down = $"Host=127.0.0.1;Port={Processes.ClosedPort()};Username=postgres;Password=x;Database=postgres";

        var result = await new PostgresProbe(down, _secrets, timeout: TimeSpan.FromSeconds(2)).ProbeAsync(CancellationToken.None);

        Assert.False(result.Healthy);
        Assert.Contains("cannot connect", result.Detail);
        Assert.Contains("connection refused", result.Detail);
    }
}
