using System.Security.Cryptography;
using Failover.Core.Backup;
using Npgsql;

namespace Failover.Driver.Backup;

/// <summary>How to reach one tenant database. The password is passed to tools as PGPASSWORD, never as an argument.</summary>
public sealed record PostgresDatabase(string Host, int Port, string Name, string User, string? Password)
{
    /// <summary>The same server, another database (the maintenance database, or a restore target).</summary>
    public PostgresDatabase WithName(string name) => this with { Name = name };

    public override string ToString() => $"postgresql://{User}@{Host}:{Port}/{Name}";

    internal string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Database = Name,
        Username = User,
        Password = Password,
        // No pool: a pooled idle connection would keep the database busy after we are done with it.
        Pooling = false,
        Timeout = 15,
    }.ConnectionString;

    /// <summary>The libpq environment for pg_dump/pg_restore/hooks: where to connect and the password, never prompted.</summary>
    internal IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["PGHOST"] = Host,
        ["PGPORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["PGDATABASE"] = Name,
        ["PGUSER"] = User,
        ["PGPASSWORD"] = Password,
        ["PGCONNECT_TIMEOUT"] = "15",
    };
}

/// <summary>
/// The PostgreSQL edge: pg_dump and pg_restore as streams, and the row counts and checksums a manifest records.
/// Tools are taken from <c>binDirectory</c> when given, so client and server major versions can be matched.
/// </summary>
public sealed class PostgresTools(string? binDirectory = null)
{
    private string Tool(string name) => binDirectory is null ? name : Path.Combine(binDirectory, name);

    /// <summary>
    /// Dumps a database in custom format into <paramref name="write"/> inside a REPEATABLE READ transaction
    /// whose snapshot pg_dump shares (<c>--snapshot</c>): the tables counted for the manifest are exactly
    /// the tables in the dump, even while the tenant keeps writing.
    /// </summary>
    public async Task<DatabaseManifest> DumpAsync(PostgresDatabase database, Stream destination, CancellationToken cancellation)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellation);
        await using (var export = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction))
        {
            var snapshot = (string)(await export.ExecuteScalarAsync(cancellation))!;
            var tables = await TablesAsync(connection, transaction, cancellation);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long bytes = 0;
            var call = new ProgramCall(Tool("pg_dump"),
                ["--format=custom", "--no-password", $"--snapshot={snapshot}", "--dbname", database.Name],
                database.Environment);
            var result = await ChildProcess.RunAsync(call, cancellation, readOutput: async (stdout, ct) =>
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await stdout.ReadAsync(buffer, ct)) > 0)
                {
                    sha.AppendData(buffer, 0, n);
                    bytes += n;
                    await destination.WriteAsync(buffer.AsMemory(0, n), ct);
                }
            });
            if (result.ExitCode != 0)
                throw new Engine.ToolFailureException(Engine.ToolFailure.Exited("pg_dump", $"backing up the database {database.Name}", result.ExitCode, result.StandardError,
                    "Check that the database answers and the backup role may read it (`pg_dump --schema-only` as that role), then run the backup again"));
            await transaction.CommitAsync(cancellation);
            return new DatabaseManifest(database.Name, tables, bytes, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }
    }

    /// <summary>Restores a custom-format dump read from a stream: one job, because a pipe cannot be seeked.</summary>
    public async Task RestoreStreamAsync(PostgresDatabase target, Stream dump, CancellationToken cancellation)
    {
        var call = new ProgramCall(Tool("pg_restore"), [.. RestoreArguments(target), "--exit-on-error", "--single-transaction"], target.Environment);
        var result = await ChildProcess.RunAsync(call, cancellation, writeInput: (stdin, ct) => dump.CopyToAsync(stdin, ct));
        if (result.ExitCode != 0) throw RestoreFailure(target, result);
    }

    /// <summary>Restores a custom-format dump file with parallel jobs.</summary>
    public async Task RestoreFileAsync(PostgresDatabase target, string dumpFile, int jobs, CancellationToken cancellation)
    {
        var call = new ProgramCall(Tool("pg_restore"), [.. RestoreArguments(target), "--exit-on-error", $"--jobs={jobs}", dumpFile], target.Environment);
        var result = await ChildProcess.RunAsync(call, cancellation);
        if (result.ExitCode != 0) throw RestoreFailure(target, result);
    }

    // Roles of the old site need not exist on the new one: objects belong to the restoring user.
    private static string[] RestoreArguments(PostgresDatabase target) =>
        ["--no-password", "--no-owner", "--no-acl", "--dbname", target.Name];

    private static InvalidOperationException RestoreFailure(PostgresDatabase target, ProgramResult result) =>
        new Engine.ToolFailureException(Engine.ToolFailure.Exited("pg_restore", $"restoring the database {target.Name}", result.ExitCode, result.StandardError,
            "Fix the cause on the target server (disk, extensions, roles), then run `failover resume`: the half-restored database is dropped first"));

    /// <summary>
    /// Creates the target database when it does not exist and refuses one that already holds tables:
    /// a restore never writes over data it did not bring.
    /// </summary>
    public async Task PrepareTargetAsync(PostgresDatabase target, CancellationToken cancellation)
    {
        await using (var admin = new NpgsqlConnection(target.WithName("postgres").ConnectionString))
        {
            await admin.OpenAsync(cancellation);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", admin) { Parameters = { new() { Value = target.Name } } };
            if (await exists.ExecuteScalarAsync(cancellation) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE {QuoteIdentifier(target.Name)}", admin);
                await create.ExecuteNonQueryAsync(cancellation);
                return;
            }
        }
        var tables = await TablesAsync(target, cancellation);
        if (tables.Count > 0)
            throw new InvalidOperationException($"target database {target.Name} already has {tables.Count} table(s); restore only into an empty database");
    }

    /// <summary>Drops the database (its sessions ended first) when it exists: what a restore that did not finish brought.</summary>
    public static async Task DropAsync(PostgresDatabase target, CancellationToken cancellation)
    {
        await using var admin = new NpgsqlConnection(target.WithName("postgres").ConnectionString);
        await admin.OpenAsync(cancellation);
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {QuoteIdentifier(target.Name)} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync(cancellation);
    }

    /// <summary>Every user table's row count and checksum, read in one consistent snapshot.</summary>
    public async Task<IReadOnlyList<TableManifest>> TablesAsync(PostgresDatabase database, CancellationToken cancellation)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellation);
        return await TablesAsync(connection, transaction, cancellation);
    }

    private static async Task<IReadOnlyList<TableManifest>> TablesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellation)
    {
        await using (var settings = new NpgsqlCommand(TableChecksums.SettingsSql, connection, transaction))
            await settings.ExecuteNonQueryAsync(cancellation);

        var names = new List<(string Schema, string Name)>();
        await using (var list = new NpgsqlCommand(TableChecksums.ListTables, connection, transaction))
        await using (var reader = await list.ExecuteReaderAsync(cancellation))
            while (await reader.ReadAsync(cancellation)) names.Add((reader.GetString(0), reader.GetString(1)));

        var tables = new List<TableManifest>();
        foreach (var (schema, name) in names)
        {
            var table = $"{QuoteIdentifier(schema)}.{QuoteIdentifier(name)}";
            // TableChecksums says why two ways: a column type without a hash function makes the first fail.
            await transaction.SaveAsync("checksum", cancellation);
            try
            {
                tables.Add(await ChecksumAsync(connection, transaction, schema, name, TableChecksums.Hashed(table), cancellation));
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedFunction)
            {
                await transaction.RollbackAsync("checksum", cancellation);
                tables.Add(await ChecksumAsync(connection, transaction, schema, name, TableChecksums.AsText(table), cancellation));
            }
        }
        return tables;
    }

    private static async Task<TableManifest> ChecksumAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string name, string sql, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        return new TableManifest(schema, name, reader.GetInt64(0), reader.GetString(1));
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";
}
