using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Failover.Driver.Backup;
using Serilog;

namespace Failover.Driver.Emulation;

/// <summary>
/// What a server boots with: its name (hostname and NoCloud instance), its user data as the provider's datasource
/// hands it to cloud-init (the bytes infra/ sends; cloud-init unpacks gzip itself), and host directories it may read.
/// </summary>
public sealed record ServerSeed(string Name, byte[] UserData, IReadOnlyList<string> ReadOnlyBinds)
{
    /// <summary>Host directories the server may write (HOST:INSIDE), e.g. the vault production backs up into.</summary>
    public IReadOnlyList<string> Binds { get; init; } = [];

    /// <summary>Empty disks attached to the server, each where the provider's device link would appear.</summary>
    public IReadOnlyList<AttachedVolume> Volumes { get; init; } = [];
}

/// <summary>An empty disk (a sparse file behind a loop device) seen inside the server at <paramref name="DeviceLink"/>.</summary>
public sealed record AttachedVolume(string DeviceLink, long SizeBytes);

/// <summary>
/// What is needed to find a running server again from another process (the emulated `pulumi up` boots it, a later
/// `destroy` or the drill reaches it): kept as JSON by the emulator.
/// </summary>
public sealed record ServerRecord(string Name, string Directory, string Block, int Index, IReadOnlyList<string> SiteAddresses,
    int NspawnPid, int LeaderPid, IReadOnlyList<string> LoopDevices, CopyKind CopyKind, double CopyMilliseconds)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public ServerNetwork Network => new(IPAddress.Parse(Block), Index) { SiteAddresses = SiteAddresses };
}

/// <summary>How a command inside a server ended.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Errors);

/// <summary>A server that did not come up: its name and the log line that says why.</summary>
public sealed class ServerBootException(string server, string line) : Exception($"{server}: {line}")
{
    public string Server { get; } = server;
    public string Line { get; } = line;
}

/// <summary>
/// One cloud server booted on this machine: a copy of the cached Debian root (<see cref="ServerCopy"/>) seeded
/// with NoCloud user data, in its own network namespace (<see cref="ServerNetwork"/>), booted by
/// `systemd-nspawn --register=no --keep-unit --boot` (this machine's PID 1 is not systemd, so nothing may ask
/// it for a unit or a machine registration; machinectl therefore cannot reach the container either, and
/// commands go in with `nsenter -t &lt;leader&gt; -a`). Disposing stops it and removes everything it made,
/// also after a failed boot.
/// </summary>
public sealed class EmulatedServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly ServerNetwork _network;
    private readonly ILogger _log;
    private int _nspawnPid;
    private ServerCopy? _copy;
    private bool _disposed;
    private readonly List<string> _loopDevices = [];

    private EmulatedServer(string name, string directory, ServerNetwork network, ILogger log)
    {
        Name = name;
        _directory = directory;
        _network = network;
        _log = log;
    }

    public string Name { get; }

    /// <summary>The server's address as the driver reaches it (its public address in the cloud).</summary>
    public IPAddress Address => _network.ServerAddress;

    /// <summary>PID (on this machine) of the container's systemd.</summary>
    public int LeaderPid { get; private set; }

    public CopyKind CopyKind => _copy!.Kind;
    public TimeSpan CopyTook => _copy!.Took;

    /// <summary>This server as another process finds it again (<see cref="Attach"/>).</summary>
    public ServerRecord Record => new(Name, _directory, _network.Block.ToString(), _network.Index, _network.SiteAddresses,
        _nspawnPid, LeaderPid, [.. _loopDevices], _copy!.Kind, _copy.Took.TotalMilliseconds);

    /// <summary>A server booted by another process (an emulated `pulumi up`), to run commands in, watch or remove.</summary>
    public static EmulatedServer Attach(ServerRecord record, ILogger log)
    {
        var server = new EmulatedServer(record.Name, record.Directory, record.Network, log)
        {
            _nspawnPid = record.NspawnPid,
            LeaderPid = record.LeaderPid,
            _copy = ServerCopy.Existing(record.Directory, record.CopyKind, TimeSpan.FromMilliseconds(record.CopyMilliseconds)),
        };
        server._loopDevices.AddRange(record.LoopDevices);
        return server;
    }

    /// <summary>Whether the container still runs (its systemd-nspawn has not exited).</summary>
    public bool IsRunning => _nspawnPid > 0 && Alive(_nspawnPid, "systemd-nspawn");

    private static bool Alive(int pid, string command)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // "pid (comm) state ...": a zombie has exited (nobody may reap it here: PID 1 is not an init).
            var close = stat.LastIndexOf(')');
            var comm = stat[(stat.IndexOf('(') + 1)..close];
            return comm == command[..Math.Min(command.Length, 15)] && stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>The server's root as seen from the host (its logs are under it).</summary>
    public string Root => _copy!.Root;

    public const string SeedDirectory = "var/lib/cloud/seed/nocloud";
    public const string OutputLog = "var/log/cloud-init-output.log";
    public const string ResultFile = "var/lib/cloud/data/result.json";

    /// <summary>
    /// Copies the cached root to <paramref name="stateDirectory"/>/&lt;name&gt;, seeds it, creates its network and
    /// boots it; returns once systemd runs inside. Anything made is removed when a step fails.
    /// </summary>
    public static async Task<EmulatedServer> BootAsync(ServerSeed seed, string cachedRoot, string stateDirectory, ServerNetwork network,
        ILogger log, CancellationToken cancellation)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(seed.Name, "^[a-z0-9][a-z0-9-]{0,62}$"))
            throw new ArgumentException($"'{seed.Name}' is not a server name: lower-case letters, digits and '-', at most 63", nameof(seed));
        var server = new EmulatedServer(seed.Name, Path.Combine(stateDirectory, seed.Name), network, log);
        try
        {
            await server.StartAsync(seed, cachedRoot, cancellation);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync(ServerSeed seed, string cachedRoot, CancellationToken cancellation)
    {
        await ServerCopy.RemoveAsync(_directory);
        Directory.CreateDirectory(_directory);
        _copy = await ServerCopy.MakeAsync(cachedRoot, _directory, cancellation);
        _log.Information("Server {Server}: root copied by {CopyKind} in {Milliseconds} ms", Name, _copy.Kind, (int)_copy.Took.TotalMilliseconds);

        var seedDir = Path.Combine(Root, SeedDirectory);
        Directory.CreateDirectory(seedDir);
        await File.WriteAllTextAsync(Path.Combine(seedDir, "meta-data"),
            $"instance-id: {Name}-{Guid.NewGuid():N}\nlocal-hostname: {Name}\n", cancellation);
        // The user data holds the vault's credentials: root-only, as cloud-init keeps it on a real server.
        var userData = Path.Combine(seedDir, "user-data");
        await File.WriteAllTextAsync(userData, "", cancellation);
        File.SetUnixFileMode(userData, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllBytesAsync(userData, seed.UserData, cancellation);

        await _network.CreateAsync(cancellation);
        var volumeBinds = new List<string>();
        foreach (var (volume, i) in seed.Volumes.Select((v, i) => (v, i)))
        {
            var image = Path.Combine(_directory, $"volume-{i}.img");
            await using (var f = new FileStream(image, FileMode.Create)) f.SetLength(volume.SizeBytes);
            var device = (await HostCommand.RunAsync("losetup", ["--find", "--show", image], cancellation)).Trim();
            _loopDevices.Add(device);
            volumeBinds.Add($"--bind={device}:{volume.DeviceLink}");
        }

        // Detached (its own session, console to a file): the server outlives the process that booted it, as a cloud
        // server outlives `pulumi up`; a pipe to this process would also keep the caller's output open.
        var console = Path.Combine(_directory, "console.log");
        var info = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", "setsid \"$@\" < /dev/null >> \"$0\" 2>&1 & echo $!", console,
                     "systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "--console=read-only", "-D", Root, "--boot",
                     $"--machine={Name}", $"--network-namespace-path={_network.NamespacePath}", "--resolv-conf=off", "--timezone=off",
                     // Root on a cloud server may change its own firewall (nftables): nspawn drops CAP_NET_ADMIN unless asked.
                     "--capability=CAP_NET_ADMIN" })
            info.ArgumentList.Add(a);
        foreach (var bind in seed.ReadOnlyBinds) info.ArgumentList.Add($"--bind-ro={bind}");
        foreach (var bind in seed.Binds) info.ArgumentList.Add($"--bind={bind}");
        foreach (var bind in volumeBinds) info.ArgumentList.Add(bind);
        using (var starter = Process.Start(info) ?? throw new InvalidOperationException("cannot start systemd-nspawn"))
        {
            var pid = (await starter.StandardOutput.ReadToEndAsync(cancellation)).Trim();
            await starter.WaitForExitAsync(cancellation);
            _nspawnPid = int.TryParse(pid, out var n) ? n : throw new InvalidOperationException($"systemd-nspawn did not start: {await starter.StandardError.ReadToEndAsync(cancellation)}");
        }
        // The background child is bash, then setsid, until it execs nspawn.
        for (var i = 0; i < 100 && !IsRunning && (Alive(_nspawnPid, "bash") || Alive(_nspawnPid, "setsid")); i++) await Task.Delay(50, cancellation);
        LeaderPid = await FindLeaderAsync(cancellation);
        _log.Information("Server {Server} booting at {Address} (container leader pid {Pid})", Name, Address, LeaderPid);
    }

    /// <summary>The container's PID 1 seen from the host: a descendant of nspawn whose innermost PID is 1.</summary>
    private async Task<int> FindLeaderAsync(CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (!IsRunning)
                throw new ServerBootException(Name, $"systemd-nspawn exited before the container started: {ConsoleTail()}");
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                if (ReadStatus(pid, "NSpid") is { } ns && ns.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 1 } ids
                    && ids[^1] == "1" && DescendsFrom(pid, _nspawnPid))
                    return pid;
            }
            await Task.Delay(100, cancellation);
        }
        throw new ServerBootException(Name, $"no container leader appeared within 30 s: {ConsoleTail()}");
    }

    private static string? ReadStatus(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static bool DescendsFrom(int pid, int ancestor)
    {
        for (var i = 0; i < 64 && pid > 1; i++)
        {
            if (!int.TryParse(ReadStatus(pid, "PPid"), out var parent)) return false;
            if (parent == ancestor) return true;
            pid = parent;
        }
        return false;
    }

    /// <summary>Runs a command inside the server (all its namespaces, as root), to its end.</summary>
    public async Task<CommandResult> ExecAsync(IReadOnlyList<string> command, CancellationToken cancellation)
    {
        if (LeaderPid == 0 || !IsRunning) throw new InvalidOperationException($"{Name} is not running");
        var r = await ChildProcess.RunAsync(new ProgramCall("nsenter", ["-t", LeaderPid.ToString(), "-a", "--", .. command]), cancellation);
        return new CommandResult(r.ExitCode, r.StandardOutput, r.StandardError);
    }

    /// <summary>
    /// Waits until cloud-init has run the user data. Throws <see cref="ServerBootException"/> with the failing
    /// line when the bootstrap fails, the container stops, or <paramref name="timeout"/> passes.
    /// </summary>
    public async Task WaitForBootstrapAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await FinishedAsync(cancellation)) return;
            if (clock.Elapsed > timeout)
                throw new ServerBootException(Name, $"cloud-init did not finish within {timeout.TotalSeconds:F0} s; last output: {HostCommand.LastLines(ReadLog(OutputLog), 1)}");
            await Task.Delay(500, cancellation);
        }
    }

    /// <summary>True once cloud-init finished without errors; throws with the failing line when it finished with errors or the container stopped.</summary>
    public async Task<bool> FinishedAsync(CancellationToken cancellation)
    {
        if (!IsRunning)
            throw new ServerBootException(Name, $"the container stopped before cloud-init finished: {ConsoleTail()}");
        var result = Path.Combine(Root, ResultFile);
        if (!File.Exists(result)) return false;
        JsonNode? json;
        try { json = JsonNode.Parse(await File.ReadAllTextAsync(result, cancellation)); }
        catch (System.Text.Json.JsonException) { return false; } // written while we read it
        var errors = json?["v1"]?["errors"]?.AsArray().Select(e => e?.ToString() ?? "").ToList() ?? [];
        if (errors.Count == 0) return true;
        throw new ServerBootException(Name, await FailingLineAsync(errors, cancellation));
    }

    /// <summary>
    /// The line that says why: the bootstrap's own "FAILED" line with the command output just before it (the
    /// failing tool's words), else the bootstrap's errors in the journal, else cloud-init's own errors.
    /// </summary>
    private async Task<string> FailingLineAsync(IReadOnlyList<string> cloudInitErrors, CancellationToken cancellation)
    {
        var lines = ReadLog(OutputLog).Split('\n');
        var at = Array.FindIndex(lines, l => l.StartsWith("failover: FAILED", StringComparison.Ordinal));
        if (at >= 0)
        {
            var before = lines.Take(at).LastOrDefault(l => l.Trim().Length > 0 && !l.StartsWith("failover:", StringComparison.Ordinal));
            return before is null ? lines[at] : $"{lines[at]} (after: {before.Trim()})";
        }
        try
        {
            var journal = await ExecAsync(["journalctl", "--no-pager", "-o", "cat", "-t", "failover-bootstrap", "-p", "err"], cancellation);
            if (journal.Output.Trim().Length > 0) return HostCommand.LastLines(journal.Output, 1);
        }
        catch (InvalidOperationException) { }
        // Nothing of the bootstrap's own: the script did not run or died before its trap (cloud-init's last words say why).
        var scriptOutput = lines.Where(l => !CloudInitOwnLine.IsMatch(l));
        return $"cloud-init failed: {string.Join("; ", cloudInitErrors)}; last output: {HostCommand.LastLines(string.Join('\n', scriptOutput), 3)}";
    }

    /// <summary>cloud-init's own lines in its output log (timestamped warnings, banners, ci-info tables), not the user data's.</summary>
    private static readonly System.Text.RegularExpressions.Regex CloudInitOwnLine =
        new(@"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - |Cloud-init v\. |ci-info: )");

    private string ReadLog(string relative)
    {
        if (_copy is null) return "";
        var path = Path.Combine(Root, relative);
        try { return File.Exists(path) ? File.ReadAllText(path) : ""; }
        catch (IOException) { return ""; }
    }

    private string ConsoleTail()
    {
        var path = Path.Combine(_directory, "console.log");
        try { return File.Exists(path) ? HostCommand.LastLines(File.ReadAllText(path), 3) : "(no console output)"; }
        catch (IOException) { return "(console log unreadable)"; }
    }

    /// <summary>Bytes this server added to the disk.</summary>
    public Task<long> DiskBytesAsync() => _copy!.DiskBytesAsync();

    /// <summary>The server lost at once, as in a fire: its container killed, its disk and network left for <see cref="DisposeAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (LeaderPid > 0 && Alive(LeaderPid, "systemd")) await HostCommand.TryAsync("kill", "-KILL", LeaderPid.ToString());
        if (IsRunning) await HostCommand.TryAsync("kill", "-KILL", _nspawnPid.ToString());
        await WaitStoppedAsync(TimeSpan.FromSeconds(10));
        // The leader, PID 1 of the container, exits only once the kernel has killed every other process inside.
        var clock = Stopwatch.StartNew();
        while (LeaderPid > 0 && Alive(LeaderPid, "systemd") && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(100);
        _log.Information("Server {Server} killed", Name);
    }

    /// <summary>
    /// The server deleted as a provider deletes one: at once, no clean poweroff first (Hetzner: "This immediately removes
    /// the Server from your account", https://docs.hetzner.cloud/#servers-delete-a-server), then its disk, copy and network removed. Nothing
    /// of a deleted server is kept, so its shutdown proves nothing; a clean one took seconds per data server (PostgreSQL).
    /// </summary>
    public async Task DeleteAsync()
    {
        await KillAsync();
        await DisposeAsync();
    }

    /// <summary>
    /// Detaches a volume's loop device, and makes sure it is: while the killed container's mount of the volume is still
    /// being torn down the device is busy, and a detach then only marks it to go once free. Retried for 15 s, then named.
    /// </summary>
    private async Task DetachAsync(string device)
    {
        var backing = $"/sys/block/{Path.GetFileName(device)}/loop/backing_file";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await HostCommand.TryAsync("losetup", "--detach", device);
            if (!File.Exists(backing)) return;
            if (clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                _log.Warning("Server {Server}: loop device {Device} still attached 15 s after the detach", Name, device);
                return;
            }
            await Task.Delay(250);
        }
    }

    /// <summary>What is left of a killed server, for the error that says it still answers: its nspawn and its leader's state.</summary>
    public string KillState =>
        $"(systemd-nspawn {_nspawnPid} {(IsRunning ? "running" : "gone")}, leader {LeaderPid}: {StatOf(LeaderPid)})";

    private static string StatOf(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(' ').Take(3).Aggregate((a, b) => $"{a} {b}"); }
        catch (IOException) { return "gone"; }
        catch (UnauthorizedAccessException) { return "unreadable"; }
    }

    private async Task<bool> WaitStoppedAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (IsRunning && clock.Elapsed < limit) await Task.Delay(200);
        return !IsRunning;
    }

    /// <summary>Stops the container (a clean poweroff, killed after 20 s), then removes its root, copy and network.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (IsRunning)
        {
            // SIGTERM asks nspawn to power the container off in order; a container that hangs is killed.
            await HostCommand.TryAsync("kill", "-TERM", _nspawnPid.ToString());
            if (!await WaitStoppedAsync(TimeSpan.FromSeconds(20)))
            {
                _log.Warning("Server {Server} did not power off within 20 s; killing it", Name);
                await KillAsync();
            }
        }
        // A container whose nspawn was killed keeps running on its own: its systemd goes too, or its mounts and loop devices stay.
        if (LeaderPid > 0 && Alive(LeaderPid, "systemd")) await HostCommand.TryAsync("kill", "-KILL", LeaderPid.ToString());
        foreach (var device in _loopDevices) await DetachAsync(device);
        await ServerCopy.RemoveAsync(_directory);
        await _network.RemoveAsync();
        _log.Information("Server {Server} stopped and removed", Name);
    }
}
