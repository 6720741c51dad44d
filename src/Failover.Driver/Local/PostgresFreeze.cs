using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Runbooks;
using Npgsql;

namespace Failover.Driver.Local;

/// <summary>
/// The local provider's built-in write freeze: every tenant database set to default_transaction_read_only and its
/// sessions ended, so from then on no session can commit a write by accident and what is committed is what the final
/// backup holds. The thaw resets the setting. (A session could still switch read-only off on purpose: the freeze stops
/// the application, not a determined administrator.)
/// </summary>
public sealed class PostgresFreeze(LocalSites sites, IReadOnlyList<Tenant> tenants) : IWriteFreeze
{
    public async Task<string> FreezeAsync(StackSpec source, CancellationToken cancellation)
    {
        long ended = 0;
        await using var admin = await OpenAsync(source, cancellation);
        foreach (var t in tenants)
        {
            await ExecuteAsync(admin, $"ALTER DATABASE \"{t.Name}\" SET default_transaction_read_only = on", cancellation);
            // Sessions opened before the ALTER keep writing until they end: end them now.
            await using var terminate = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid()", admin);
            terminate.Parameters.AddWithValue("db", t.Name);
            ended += (long)(await terminate.ExecuteScalarAsync(cancellation))!;
        }
        return $"{tenants.Count} tenant databases on {LocalSites.Address(source)} read-only, {ended} open session(s) ended";
    }

    public async Task<string> ThawAsync(StackSpec source, CancellationToken cancellation)
    {
        await using var admin = await OpenAsync(source, cancellation);
        foreach (var t in tenants)
            await ExecuteAsync(admin, $"ALTER DATABASE \"{t.Name}\" RESET default_transaction_read_only", cancellation);
        return $"{tenants.Count} tenant databases on {LocalSites.Address(source)} take writes again";
    }

    private async Task<NpgsqlConnection> OpenAsync(StackSpec source, CancellationToken cancellation)
    {
        var cluster = sites.Cluster(source);
        var admin = new NpgsqlConnection(new PostgresDatabase(cluster.Address, cluster.Port, "postgres", "postgres", null).ConnectionString);
        await admin.OpenAsync(cancellation);
        return admin;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellation);
    }
}
