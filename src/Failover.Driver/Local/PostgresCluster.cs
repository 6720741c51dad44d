using System.Diagnostics;
using Failover.Driver.Engine;

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

    /// <summary>How long pg_ctl waits for the server to accept connections before the start counts as failed (runtime option localDatabaseStart).</summary>
    internal int StartWaitSeconds { get; init; } = (int)Core.Planning.RuntimeOptions.Default.LocalDatabaseStart.TotalSeconds;

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
        Plain(DataDirectory); // refused before anything is created
        // initdb works in a staging folder renamed into place when it has finished: an initdb killed with the
        // driver leaves no half-made cluster that the next provision would take for a finished one.
        var staging = DataDirectory + ".init";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        if (Directory.Exists(DataDirectory) && !Directory.EnumerateFileSystemEntries(DataDirectory).Any()) Directory.Delete(DataDirectory);
        Directory.CreateDirectory(staging);
        Directory.CreateDirectory(SocketDirectory);
        Own(Path.GetDirectoryName(DataDirectory)!);
        // Trust on loopback only: the drill's clusters listen on 127.0.0.x and hold generated data.
        await Tool(cancellation, "initdb", $"creating the cluster of {Address} in {DataDirectory}",
            "Check that its disk has room and the postgres user may write there, then provision again", "initdb", "-D", Plain(staging), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync");
        Directory.Move(staging, DataDirectory);
    }

    public async Task StartAsync(CancellationToken cancellation)
    {
        if (Pid is not null) return;
        // pg_ctl starts postgres through `sh -c` with -D, -l and -o spliced into that line: every value is held to
        // characters no shell gives a meaning to (Plain), so no path or address can become a command.
        try
        {
            await Tool(cancellation, "pg_ctl start", $"starting the cluster on {Address}:{Port}",
                $"Its log {LogFile} says why (a port in use, a machine too loaded to start it within {StartWaitSeconds} s); fix that and run again",
                "pg_ctl", "-D", Plain(DataDirectory), "-l", Plain(LogFile), "-w", "-t",
                StartWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-o", $"-c listen_addresses={Plain(Address)} -p {Port} -c unix_socket_directories={Plain(SocketDirectory)} -c fsync=off", "start");
        }
        catch (InvalidOperationException) when (!cancellation.IsCancellationRequested)
        {
            // pg_ctl stops waiting but leaves a slow postmaster starting (a loaded machine): one that comes up later
            // listens on the site's address with nobody owning it, after a rehearsal copy was already torn down.
            StopStarting();
            throw;
        }
    }

    private void StopStarting()
    {
        if (Pid is not null) { Kill(); return; }
        // Too early for postmaster.pid: the postmaster is found by its data directory argument.
        foreach (var p in Process.GetProcessesByName("postgres"))
            using (p)
            {
                try { if (File.ReadAllText($"/proc/{p.Id}/cmdline").Contains($"\0{DataDirectory}\0", StringComparison.Ordinal)) p.Kill(true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException) { }
            }
    }

    public async Task StopAsync(CancellationToken cancellation)
    {
        if (Pid is null) return;
        await Tool(cancellation, "pg_ctl stop", $"stopping the cluster on {Address}:{Port}",
            $"Its log {LogFile} says why; if it hangs, stop the postmaster by hand (its pid is the first line of {DataDirectory}/postmaster.pid)",
            "pg_ctl", "-D", Plain(DataDirectory), "-m", "fast", "-w", "stop");
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
        var chown = new ProcessStartInfo("chown") { RedirectStandardError = true };
        foreach (var a in new[] { "-R", "postgres:postgres", "--", directory }) chown.ArgumentList.Add(a);
        using var p = Process.Start(chown)!;
        p.WaitForExit();
    }

    /// <summary>
    /// The value when it holds only characters that mean nothing to a shell (letters, digits and <c>/ . _ - + , : @ %</c>),
    /// else a refusal naming it: initdb and pg_ctl pass paths through <c>sh -c</c>, where <c>$(...)</c> would run.
    /// </summary>
    internal static string Plain(string value)
    {
        if (value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ',' or ':' or '@' or '%'))
            return value;
        throw new InvalidOperationException($"'{value}' holds a character PostgreSQL's tools would hand to a shell (they start postgres through sh -c); " +
            "use a --state-dir and stack names of letters, digits, '/', '.', '_' and '-' only");
    }

    /// <summary>Runs one of PostgreSQL's tools as the postgres user; its failure is worded as every tool's (<see cref="ToolFailure"/>).</summary>
    /// <param name="command">The command as an operator would type it (<c>pg_ctl start</c>).</param>
    private async Task Tool(CancellationToken cancellation, string command, string doing, string remedy, string tool, params string[] args)
    {
        var path = Path.Combine(BinDirectory, tool);
        var logLength = File.Exists(LogFile) ? new FileInfo(LogFile).Length : 0;
        var psi = new ProcessStartInfo(IsRoot ? "runuser" : path);
        // As root the tool runs under runuser, whose change of user clears a parent-death signal: the tool sets its own
        // (the postmaster pg_ctl forks does not inherit it, so a started cluster outlives the driver as it should).
        var asPostgres = IsRoot ? Backup.ChildLifetime.Tied(["-u", "postgres", "--"], path) : [];
        foreach (var a in asPostgres.Concat(args)) psi.ArgumentList.Add(a);
        Backup.ChildLifetime.Tie(psi);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/";
        using var p = new Process { StartInfo = psi };
        Backup.ChildLifetime.Start(p);
        var stdout = p.StandardOutput.ReadToEndAsync(cancellation);
        var stderr = p.StandardError.ReadToEndAsync(cancellation);
        await p.WaitForExitAsync(cancellation);
        if (p.ExitCode != 0)
            // pg_ctl says little ("could not start server"); the server's log says why: its last error line is the one shown.
            throw new ToolFailureException(ToolFailure.Exited(command, doing, p.ExitCode, $"{await stdout}\n{await stderr}\n{LogErrorSince(logLength)}", remedy));
    }

    /// <summary>The server log's last FATAL or PANIC line written after <paramref name="from"/> (bytes), from its severity on ("FATAL: could not bind …"), or "".</summary>
    private string LogErrorSince(long from)
    {
        try
        {
            using var log = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            log.Seek(Math.Min(from, log.Length), SeekOrigin.Begin);
            var line = new StreamReader(log).ReadToEnd().Split('\n').LastOrDefault(l => l.Contains("FATAL:", StringComparison.Ordinal) || l.Contains("PANIC:", StringComparison.Ordinal));
            if (line is null) return "";
            var at = line.IndexOf("FATAL:", StringComparison.Ordinal) is var f and >= 0 ? f : line.IndexOf("PANIC:", StringComparison.Ordinal);
            return System.Text.RegularExpressions.Regex.Replace(line[at..], @"\s+", " ");
        }
        catch (IOException) { return ""; }
    }
}
