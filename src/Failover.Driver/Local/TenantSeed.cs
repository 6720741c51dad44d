using System.Security.Cryptography;
using Failover.Core.Topology;
using Npgsql;

namespace Failover.Driver.Local;

/// <summary>
/// Fills a local production site with believable tenant data for the drill: a database per tenant with
/// customers and events, and a files directory, sized from the tenant's dataGb times a scale.
/// </summary>
public static class TenantSeed
{
    /// <summary>Rows of about this many bytes make up the events table.</summary>
    private const int EventBytes = 300;

    /// <param name="host">An address, or a directory holding PostgreSQL's socket (a booted server's, seen from this machine).</param>
    /// <param name="user">The role: postgres on a local site; root (peer authentication over the socket) on a booted server.</param>
    public static string ConnectionString(string host, int port, string database, string user = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = host, Port = port, Username = user, Database = database, Pooling = false, Timeout = 10 }.ConnectionString;

    public static async Task SeedAsync(Tenant tenant, string host, int port, string filesDirectory, double scale, CancellationToken cancellation, string user = "postgres")
    {
        var bytes = Math.Max(200_000, tenant.DataGb * 1e9 * scale);
        var events = (long)(bytes * 0.95 / EventBytes);
        var customers = Math.Max(10, events / 50);
        await using (var admin = new NpgsqlConnection(ConnectionString(host, port, "postgres", user)))
        {
            await admin.OpenAsync(cancellation);
            await using var create = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{tenant.Name}\"; ", admin);
            await create.ExecuteNonQueryAsync(cancellation);
            create.CommandText = $"CREATE DATABASE \"{tenant.Name}\"";
            await create.ExecuteNonQueryAsync(cancellation);
        }
        await using (var db = new NpgsqlConnection(ConnectionString(host, port, tenant.Name, user)))
        {
            await db.OpenAsync(cancellation);
            await using var cmd = new NpgsqlCommand($"""
                CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, created timestamptz NOT NULL);
                INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@{tenant.Name}.example', '2026-01-01'::timestamptz + g * interval '1 minute'
                  FROM generate_series(1, {customers}) g;
                CREATE TABLE events (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers, kind text NOT NULL, payload text NOT NULL);
                INSERT INTO events SELECT g, g % {customers} + 1, (ARRAY['signup','order','refund','login'])[g % 4 + 1], repeat(md5(g::text), 8)
                  FROM generate_series(1, {events}) g;
                CREATE INDEX events_customer ON events (customer_id);
                ANALYZE;
                """, db) { CommandTimeout = 600 };
            await cmd.ExecuteNonQueryAsync(cancellation);
        }
        Directory.CreateDirectory(filesDirectory);
        var fileBytes = (long)(bytes * 0.05);
        var count = (int)Math.Clamp(fileBytes / 64_000, 3, 200);
        for (var i = 0; i < count; i++)
        {
            var sub = Path.Combine(filesDirectory, $"uploads/{i % 7}");
            Directory.CreateDirectory(sub);
            await File.WriteAllBytesAsync(Path.Combine(sub, $"file-{i:000}.bin"), RandomNumberGenerator.GetBytes((int)Math.Max(1024, fileBytes / count)), cancellation);
        }
    }

    /// <summary>Rows per table, to compare a restored tenant with what was seeded and written.</summary>
    public static async Task<IReadOnlyDictionary<string, long>> CountRowsAsync(string host, int port, string database, CancellationToken cancellation, string user = "postgres")
    {
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using var db = new NpgsqlConnection(ConnectionString(host, port, database, user));
        await db.OpenAsync(cancellation);
        foreach (var table in new[] { "customers", "events" })
        {
            await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {table}", db);
            counts[table] = (long)(await cmd.ExecuteScalarAsync(cancellation))!;
        }
        return counts;
    }
}
