using Failover.Driver.Logging;
using Npgsql;

namespace Failover.Driver.Health;

/// <summary>
/// Runs one query on PostgreSQL: the database accepts logins and answers (and, with an expected value,
/// holds the restored data, e.g. <c>select count(*) from tenants</c> = 12).
/// </summary>
public sealed class PostgresProbe : IHealthProbe
{
    private readonly string _connectionString;
    private readonly string _query;
    private readonly string? _expected;

    /// <param name="connectionString">Npgsql connection string; its password is registered as a secret.</param>
    /// <param name="expected">The first column of the first row, as text; null accepts any answer.</param>
    public PostgresProbe(string connectionString, SecretRegistry secrets, string query = "select 1", string? expected = null, TimeSpan? timeout = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // A probe must not keep connections open on the site it judges.
            Pooling = false,
            Timeout = (int)Math.Ceiling((timeout ?? Core.Planning.RuntimeOptions.Default.Probe).TotalSeconds),
            CommandTimeout = (int)Math.Ceiling((timeout ?? Core.Planning.RuntimeOptions.Default.Probe).TotalSeconds),
        };
        secrets.Add(builder.Password);
        Name = $"postgres {builder.Host}:{builder.Port}/{builder.Database}";
        _connectionString = builder.ConnectionString;
        _query = query;
        _expected = expected;
    }

    public string Name { get; }

    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellation)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(cancellation);
            await using var command = new NpgsqlCommand(_query, connection);
            var value = await command.ExecuteScalarAsync(cancellation);
            var text = value is null or DBNull ? "null" : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "null";
            if (_expected is not null && text != _expected)
                return ProbeResult.Fail($"'{_query}' returned {text}, expected {_expected}");
            return ProbeResult.Pass($"'{_query}' returned {text}");
        }
        catch (PostgresException e)
        {
            return ProbeResult.Fail($"'{_query}' failed: {e.SqlState} {e.MessageText}");
        }
        catch (NpgsqlException e)
        {
            var cause = e.InnerException is System.Net.Sockets.SocketException s ? Network.Describe(s) : e.Message;
            return ProbeResult.Fail($"cannot connect: {cause}");
        }
        catch (TimeoutException e)
        {
            return ProbeResult.Fail($"timed out: {e.Message}");
        }
    }
}
