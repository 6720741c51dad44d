using Failover.Driver.Backup;
using Failover.Driver.Local;
using Npgsql;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL cluster for the tests: initdb into a temp dir, started with pg_ctl on 127.0.0.1
/// and a free port (socket in the temp dir, so no system cluster is touched), stopped and deleted at the end.
/// PostgreSQL refuses to run as root, so as root the server runs as the <c>postgres</c> OS user. Unlike the
/// local provider's clusters (trust on loopback) it requires a password, as a real server does.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private readonly string _dir;
    private readonly string _data;

    public PostgresCluster()
    {
        // CI is a fresh root machine: the packages are installed when missing, or the tests fail saying which.
        DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package is "restic" or "postgresql" or "postgresql-client").ToList(),
            _ => { }, CancellationToken.None).GetAwaiter().GetResult();
        BinDirectory = global::Failover.Driver.Local.PostgresCluster.BinDirectory;
        _dir = Directory.CreateTempSubdirectory("failover-pg-").FullName;
        _data = Path.Combine(_dir, "data");
        Password = "pg-" + Guid.NewGuid().ToString("N");
        var passwordFile = Path.Combine(_dir, "pwfile");
        File.WriteAllText(passwordFile, Password);
        if (IsRoot) Processes.Run("chown", "-R", "postgres:postgres", _dir);
        Port = Processes.FreePort();
        AsServer(Path.Combine(BinDirectory, "initdb"), "-D", _data, "-U", "postgres", "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C.UTF-8");
        File.Delete(passwordFile);
        AsServer(Path.Combine(BinDirectory, "pg_ctl"), "-D", _data, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "start",
            "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off");
    }

    public string BinDirectory { get; }
    public int Port { get; }
    public string Password { get; }

    /// <summary>Npgsql connection string of the postgres database, password included.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Password={Password};Database=postgres";

    public PostgresDatabase Database(string name) => new("127.0.0.1", Port, name, "postgres", Password);

    /// <summary>Creates a database and runs SQL in it.</summary>
    public async Task<PostgresDatabase> CreateAsync(string name, string sql)
    {
        await ExecuteAsync(Database("postgres"), $"CREATE DATABASE \"{name}\"");
        var db = Database(name);
        await ExecuteAsync(db, sql);
        return db;
    }

    public static async Task ExecuteAsync(PostgresDatabase db, string sql)
    {
        await using var c = new NpgsqlConnection(db.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Every row of a table as text, in a fixed order: what a user would see, compared independently of the manifest.</summary>
    public static async Task<List<string>> RowsAsync(PostgresDatabase db, string table)
    {
        await using var c = new NpgsqlConnection(db.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT t::text FROM {table} t ORDER BY 1", c);
        var rows = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) rows.Add(r.GetString(0));
        return rows;
    }

    public void Dispose()
    {
        try { AsServer(Path.Combine(BinDirectory, "pg_ctl"), "-D", _data, "-m", "immediate", "-w", "stop"); }
        finally { Directory.Delete(_dir, recursive: true); }
    }

    private static void AsServer(string program, params string[] args)
    {
        if (IsRoot) Processes.Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Processes.Run(program, args);
    }

    private static bool IsRoot => Environment.UserName == "root";
}
