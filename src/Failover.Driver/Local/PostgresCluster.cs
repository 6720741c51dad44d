using System.Diagnostics;

namespace Failover.Driver.Local;

/// <summary>
/// A PostgreSQL cluster of a local site: its own data directory, bound to the site's loopback address.
/// PostgreSQL refuses to run as root, so as root the tools run as the `postgres` user.
/// </summary>
public sealed class PostgresCluster(string dataDirectory, string address, int port)
{
    public string DataDirectory { get; } = dataDirectory;
    public string Address { get; } = address;
    public int Port { get; } = port;
    public string SocketDirectory => Path.Combine(Path.GetDirectoryName(DataDirectory)!, "socket");
    private string LogFile => Path.Combine(Path.GetDirectoryName(DataDirectory)!, "postgres.log");

    public static string BinDirectory =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
              ?? throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql (Debian package postgresql)")
            : throw new InvalidOperationException("PostgreSQL is not installed (Debian package postgresql)");

    public bool IsInitialised => File.Exists(Path.Combine(DataDirectory, "PG_VERSION"));

    /// <summary>The postmaster's pid while it runs, from postmaster.pid.</summary>
    public int? Pid
    {
        get
        {
            var file = Path.Combine(DataDirectory, "postmaster.pid");
            if (!File.Exists(file)) return null;
            try
            {
                if (!int.TryParse(File.ReadLines(file).FirstOrDefault(), out var pid)) return null;
                using var p = Process.GetProcessById(pid);
                return p.HasExited ? null : pid;
            }
            catch (Exception e) when (e is ArgumentException or IOException) { return null; }
        }
    }

    public async Task InitAsync(CancellationToken cancellation)
    {
        if (IsInitialised) return;
        Directory.CreateDirectory(DataDirectory);
        Directory.CreateDirectory(SocketDirectory);
        Own(Path.GetDirectoryName(DataDirectory)!);
        // Trust on loopback only: the drill's clusters listen on 127.0.0.x and hold generated data.
        await Tool("initdb", $"-D \"{DataDirectory}\" -U postgres --auth=trust --encoding=UTF8 --no-sync", cancellation);
    }

    public async Task StartAsync(CancellationToken cancellation)
    {
        if (Pid is not null) return;
        await Tool("pg_ctl", $"-D \"{DataDirectory}\" -l \"{LogFile}\" -w -t 60 -o \"-c listen_addresses={Address} -p {Port} -c unix_socket_directories='{SocketDirectory}' -c fsync=off\" start", cancellation);
    }

    public async Task StopAsync(CancellationToken cancellation)
    {
        if (Pid is null) return;
        await Tool("pg_ctl", $"-D \"{DataDirectory}\" -m fast -w stop", cancellation);
    }

    /// <summary>Kills the cluster the way a power cut would: no shutdown, no checkpoint.</summary>
    public void Kill()
    {
        if (Pid is not { } pid) return;
        using var p = Process.GetProcessById(pid);
        p.Kill(entireProcessTree: true);
        p.WaitForExit(10_000);
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static void Own(string directory)
    {
        if (!IsRoot) return;
        // The postgres user must be able to reach its directory through every folder above it.
        for (var d = new DirectoryInfo(directory).Parent; d is not null && d.FullName != "/"; d = d.Parent)
            if (!d.UnixFileMode.HasFlag(UnixFileMode.OtherExecute))
                throw new InvalidOperationException($"the postgres user cannot reach {directory}: {d.FullName} is not searchable by others (chmod o+x \"{d.FullName}\", or use another --state-dir)");
        using var p = Process.Start(new ProcessStartInfo("chown", $"-R postgres:postgres \"{directory}\"") { RedirectStandardError = true })!;
        p.WaitForExit();
    }

    private static async Task Tool(string tool, string args, CancellationToken cancellation)
    {
        var path = Path.Combine(BinDirectory, tool);
        var psi = IsRoot ? new ProcessStartInfo("runuser", $"-u postgres -- \"{path}\" {args}") : new ProcessStartInfo(path, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = p.StandardOutput.ReadToEndAsync(cancellation);
        var stderr = p.StandardError.ReadToEndAsync(cancellation);
        await p.WaitForExitAsync(cancellation);
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}".Trim());
    }
}
