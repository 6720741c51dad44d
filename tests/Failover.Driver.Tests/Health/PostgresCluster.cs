using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Health;

/// <summary>
/// A throwaway PostgreSQL cluster (Debian's server binaries) in a temp dir on a free 127.0.0.1 port,
/// owned by the postgres user when the tests run as root (PostgreSQL refuses to run as root), removed at the end.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-pg-probe-").FullName;
    private string _bin = "";

    public string Password { get; } = "pg-probe-" + Guid.NewGuid().ToString("N")[..16];
    public int Port { get; } = Processes.FreePort();
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Password={Password};Database=postgres";
    private string Data => Path.Combine(_dir, "data");

    private static string? Binaries() => Directory.Exists("/usr/lib/postgresql")
        ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending().FirstOrDefault()
        : null;

    public Task InitializeAsync()
    {
        DebianPackages.Ensure(() => Binaries() is not null, "the PostgreSQL server", "postgresql");
        _bin = Binaries()!;
        File.WriteAllText(Path.Combine(_dir, "pwfile"), Password);
        if (Environment.UserName == "root") Processes.Run("chown", "-R", "postgres:postgres", _dir);
        AsOwner("initdb", "-D", Data, "-U", "postgres", "-A", "scram-sha-256", "--pwfile", Path.Combine(_dir, "pwfile"), "--no-sync");
        AsOwner("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "log"), "-w", "-t", "30", "start",
            "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off");
        return Task.CompletedTask;
    }

    private void AsOwner(string program, params string[] arguments)
    {
        var path = Path.Combine(_bin, program);
        if (Environment.UserName == "root") Processes.Run("runuser", ["-u", "postgres", "--", path, .. arguments]);
        else Processes.Run(path, arguments);
    }

    public Task DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(Data, "postmaster.pid"))) AsOwner("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop");
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
        return Task.CompletedTask;
    }
}
