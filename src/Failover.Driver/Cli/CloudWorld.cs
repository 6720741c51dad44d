using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Cloud;
using Failover.Driver.Dns;
using Failover.Driver.Emulation;
using Failover.Driver.Emulation.PulumiCli;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Failover.Driver.Composition;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// The shipped cloud topology booted on this machine, up to a production that serves and is backed up by its own agent:
/// a copy of the stack files (the DNS stack on a PowerDNS of the drill's, production's backup schedule a minute, its
/// migration hooks entering its data server), the emulated `pulumi` (docs/server-emulation.md), the vault and the cold
/// standbys deployed, production's servers booted from their user data and seeded, and its agent's first run after the
/// seeding in the vault. The cloud drill fails over from it; the booted-server tests rehearse and migrate on it with the
/// real verbs, given <see cref="Variable"/> and <see cref="PulumiEnvironment"/>.
/// </summary>
internal sealed class CloudWorld
{
    /// <summary>The drill's PowerDNS (the zone's provider emulated) on a loopback address of its own, unless <see cref="DnsVariable"/> names another.</summary>
    public const string DefaultDnsAddress = "127.0.14.53";
    public const int DnsPort = 5300, DnsApiPort = 8281;

    /// <summary>
    /// A loopback address for the world's PowerDNS instead of <see cref="DefaultDnsAddress"/>: with another
    /// <see cref="EmulatedCloud.BlockVariable"/>, a second drill runs on this machine beside the first.
    /// </summary>
    public const string DnsVariable = "FAILOVER_DRILL_DNS_ADDRESS";

    /// <summary>The address the world's PowerDNS listens on (ports <see cref="DnsPort"/> and <see cref="DnsApiPort"/>).</summary>
    public string DnsAddress { get; }

    /// <summary>The backup schedule of the world's copy of the topology: the shortest the reader accepts.</summary>
    internal const string Schedule = "1m";

    /// <summary>
    /// The time limits of a run in the world: the defaults, but a booted server's restore, gate and first backup looked at
    /// once a second instead of every 5 to 10 s. The defaults suit a provider's servers, where a look is a request across
    /// the internet; here it is a request on this machine, and each of the world's four restores, its gates and its two
    /// first backups was seen up to 10 s after it happened.
    /// </summary>
    public static Failover.Core.Planning.RuntimeOptions Options { get; } = new(
        cloudGate: Failover.Core.Planning.RuntimeOptions.Default.CloudGate with { Poll = TimeSpan.FromSeconds(1) },
        cloudRestore: Failover.Core.Planning.RuntimeOptions.Default.CloudRestore with { Poll = TimeSpan.FromSeconds(1) },
        reportFiling: Failover.Core.Planning.RuntimeOptions.Default.ReportFiling with { Poll = TimeSpan.FromSeconds(1) });

    /// <summary>How long a server may take from its container's start to a finished cloud-init.</summary>
    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The world reaches a server's PostgreSQL as an operator with root on it would: over its socket, seen from this
    /// machine through the container's root, as the role root (peer authentication), which it creates first.
    /// </summary>
    internal const string OperatorRole = "root";

    private readonly SecretRegistry _secrets;
    private readonly ILogger _log;
    private readonly Action<string> _say;
    private PowerDnsServer? _pdns;
    private string? _mounted;

    private CloudWorld(string home, string dnsAddress, SecretRegistry secrets, ILogger log, Action<string> say)
    {
        Home = home;
        DnsAddress = dnsAddress;
        _secrets = secrets;
        _log = log;
        _say = say;
    }

    public string Home { get; }
    public string Emulation => Path.Combine(Home, "emulation");
    private string DnsDirectory => Path.Combine(Home, "dns");

    /// <summary>The world's copy of the stack files (a migration rewrites them: read them again with <see cref="Topology"/>).</summary>
    public string Stacks => Path.Combine(Home, "project", "infra", "stacks");
    public Topology Topology => TopologyLoader.Load(Stacks);

    /// <summary>The `ssh` of the world: a command as root on one of its servers (`ssh SERVER COMMAND...`).</summary>
    public string Ssh => Path.Combine(Home, "ssh");

    /// <summary>The variables a run in this world reads: the emulated `pulumi`, the PowerDNS API key.</summary>
    public Func<string, string?> Variable { get; private set; } = _ => null;

    /// <summary>What every `pulumi` the driver runs here is given: the emulation's directory, its block, state and passphrase.</summary>
    public IReadOnlyDictionary<string, string> PulumiEnvironment { get; private set; } = new Dictionary<string, string>();

    public IPulumi Pulumi { get; private set; } = null!;

    /// <summary>Every tenant's rows per table as seeded into production.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Seeded { get; private set; } = new Dictionary<string, IReadOnlyDictionary<string, long>>();

    /// <summary>The agent's heartbeat that the world waited for: the run that backed up the seeded rows.</summary>
    public BackupHeartbeat? FirstBackup { get; private set; }

    /// <summary>When production started serving its seeded tenants.</summary>
    public DateTimeOffset SeededAt { get; private set; }

    /// <summary>
    /// Installs what is missing and builds the cached root (the drill's step 1) where the emulator looks for it
    /// (<see cref="EmulatedCloud.RootsVariable"/>, else <see cref="DebianRoot.DefaultCache"/>).
    /// </summary>
    public static async Task EnsurePrerequisitesAsync(Func<string, string?> variable, ILogger log, Action<string> say, CancellationToken ct)
    {
        var installed = await DebianPackages.EnsureAsync([.. DebianPackages.Drill, new RequiredProgram("jq", "jq", ["/usr/bin/jq"])], say, ct);
        say(installed.Count == 0 ? "      packages all present" : $"      installed {string.Join(", ", installed)}");
        var cache = variable(EmulatedCloud.RootsVariable) is { Length: > 0 } roots ? roots : DebianRoot.DefaultCache;
        var root = await DebianRoot.EnsureAsync(cache, DebianRoot.UserDataPackages, log, ct);
        say($"      root {root} ({File.ReadAllText(Path.Combine(Path.GetDirectoryName(root)!, "complete")).Split('\n').LastOrDefault(l => l.StartsWith("built", StringComparison.Ordinal))})");
    }

    /// <summary>
    /// Boots the world in <paramref name="home"/> (anything left there removed first) through steps 2 to 5 of the drill.
    /// A failure leaves what was made for <see cref="RemoveAsync"/>.
    /// </summary>
    public static async Task<CloudWorld> StartAsync(Topology shipped, string home, SecretRegistry secrets, Func<string, string?> variable, TimeProvider time,
        double scale, ILogger log, Action<string> say, string steps, CancellationToken ct)
    {
        var dnsAddress = variable(DnsVariable) is { Length: > 0 } given ? given : DefaultDnsAddress;
        if (!IPAddress.TryParse(dnsAddress, out var parsed) || !IPAddress.IsLoopback(parsed) || parsed.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new UsageException($"{DnsVariable}={dnsAddress}: the drill's PowerDNS listens on a loopback address of this machine; give one of 127.0.0.0/8, e.g. {DefaultDnsAddress}");
        await RemoveAsync(home, log);
        var world = new CloudWorld(home, dnsAddress, secrets, log, say);
        await world.BootAsync(shipped, variable, time, scale, steps, ct);
        return world;
    }

    private async Task BootAsync(Topology shipped, Func<string, string?> variable, TimeProvider time, double scale, string steps, CancellationToken ct)
    {
        var topology = CopyProject(shipped, Path.Combine(Home, "project"));
        var prod = topology.Production;
        var standbys = topology.Standbys.Where(s => s.Site.Provider is Provider.Hetzner or Provider.Aws).ToList();
        var dnsStack = topology.DnsStack ?? throw new UsageException("the cloud drill needs a dns stack");
        var dns = dnsStack.Dns!;
        WriteSsh();

        var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var passphrase = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        // The emulated AWS account's keys, where an operator's environment holds them for the aws provider: a run checks
        // that the credentials its steps need are there before its first step. The emulator checks none of them, and
        // keys of a real account in this machine's environment are never handed to the emulated one.
        var awsKeyId = "AKIA" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        var awsSecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(30));
        _secrets.Add(apiKey);
        _secrets.Add(passphrase);
        _secrets.Add(awsSecret);
        var pulumiPath = WritePulumi(Home);
        Variable = name => name switch
        {
            RunPortsFactory.DnsApiKeyVariable => apiKey,
            RunPortsFactory.PulumiVariable => pulumiPath,
            "AWS_ACCESS_KEY_ID" => awsKeyId,
            "AWS_SECRET_ACCESS_KEY" => awsSecret,
            "AWS_PROFILE" or "AWS_SESSION_TOKEN" or "AWS_SHARED_CREDENTIALS_FILE" => null,
            _ => variable(name),
        };
        PulumiEnvironment = new Dictionary<string, string>
        {
            [EmulatedCloud.DirectoryVariable] = Emulation,
            [EmulatedCloud.BlockVariable] = variable(EmulatedCloud.BlockVariable) ?? EmulatedCloud.DefaultBlock,
            ["PULUMI_STANDIN_STATE"] = Path.Combine(Home, "pulumi-state"),
            ["PULUMI_CONFIG_PASSPHRASE"] = passphrase,
        };
        if (variable(EmulatedCloud.RootsVariable) is { Length: > 0 } roots)
            PulumiEnvironment = new Dictionary<string, string>(PulumiEnvironment) { [EmulatedCloud.RootsVariable] = roots };
        Pulumi = RunPortsFactory.Pulumi(RunCommands.ProjectDirectory(topology), Variable, PulumiEnvironment, _secrets, _log, time, Options);

        _say($"[2/{steps}] starting the DNS server (PowerDNS, standing in for {dnsStack.Name}) on {DnsAddress}:{DnsPort} with zone {dns.Zone}");
        _pdns = new PowerDnsServer(DnsDirectory, DnsAddress, DnsPort, DnsApiPort, apiKey) { ApiTimeout = Options.Http };
        await _pdns.StartAsync(ct);
        await File.WriteAllTextAsync(Path.Combine(DnsDirectory, "pid"), _pdns.Pid.ToString(), ct);

        var vault = RestoreSource.VaultFor(topology, prod);
        _say($"[3/{steps}] pulumi up {vault.Name}, {string.Join(", ", standbys.Select(s => $"{s.Name} ({s.Mode.ToString().ToLowerInvariant()})"))} and {prod.Name}: " +
             "the vault, the standbys as deployed before anything happens, and production's servers booted from their user data");
        foreach (var s in (StackSpec[])[vault, .. standbys, prod])
        {
            await Pulumi.SelectOrCreateStackAsync(s.Name, ct);
            await Pulumi.UpAsync(s.Name, null, ct);
        }
        var prodOutputs = await Pulumi.GetOutputsAsync(prod.Name, ct);
        var prodAddress = prodOutputs[StackOutputs.ServiceIpv4].Text;
        await _pdns.CreateZoneAsync(dns.Zone, dns.Records.Where(r => r.Type == "A").Select(r => (r.Name, "A", new[] { prodAddress })), dns.TtlSeconds, ct);
        var bootClock = Stopwatch.StartNew();
        await WaitBootedAsync(prod.Name, ct);
        _say($"      {prod.Name} booted in {Durations.Format(bootClock.Elapsed)}; it serves at {prodAddress}");

        var prodData = await DataServerAsync(SitePlan.For(prod), ct);
        var device = EmulatedCloud.Read(Emulation).Servers[prodData.Name].Record.LoopDevices.FirstOrDefault()
            ?? throw new InvalidOperationException($"{prodData.Name} has no volume");
        _mounted = await MountVolumeAsync(device, Path.Combine(Home, "volume"), ct);
        _say($"[4/{steps}] seeding {topology.Tenants.Count} tenants (scale {scale}) into {prodData.Name}'s PostgreSQL");
        var seeded = new Dictionary<string, IReadOnlyDictionary<string, long>>();
        foreach (var t in topology.Tenants)
        {
            await TenantSeed.SeedAsync(t, SocketOf(prodData), 5432, FilesOf(_mounted, t.Name), scale, ct, OperatorRole);
            seeded[t.Name] = await TenantSeed.CountRowsAsync(SocketOf(prodData), 5432, t.Name, ct, OperatorRole);
            _say($"      {t.Name,-16} tier {t.Tier}  {seeded[t.Name].Values.Sum(),9} rows");
        }
        Seeded = seeded;
        SeededAt = time.GetUtcNow();

        var agent = BackupPlan.For(topology, prod);
        _say($"[5/{steps}] waiting for the backup agent's own timer on {prodData.Name} (every {Durations.Format(agent.Interval)}: the drill's copy of failover:backup.schedule) to back every tenant up into {vault.Name}");
        var catalog = new BackupCatalog(new ResticRepository(await VaultSettings.CloudAsync(vault, Pulumi, ct), _secrets, _log), time, _log);
        FirstBackup = await WaitForAgentAsync(catalog, vault.Name, prodData.Name, SeededAt, HeartbeatLimit(agent.Interval), ct);
        _say($"      heartbeat of agent run {FirstBackup.RunId}: {FirstBackup.BackedUp} of {FirstBackup.Tenants} tenants into {vault.Name}, " +
             $"finished {Durations.Format(FirstBackup.Finished - SeededAt)} after the seeding");
    }

    /// <summary>The site's containers killed: the site is lost. Throws when it still answers its health address.</summary>
    public async Task LoseAsync(string stack, CancellationToken ct)
    {
        var outputs = await Pulumi.GetOutputsAsync(stack, ct);
        var servers = EmulatedCloud.Read(Emulation).Servers.Values.Where(s => s.Stack == stack).Select(s => EmulatedServer.Attach(s.Record, _log)).ToList();
        foreach (var server in servers) await server.KillAsync();
        // A killed process answers nothing, but on a loaded machine its socket may outlive the kill by a moment.
        var clock = Stopwatch.StartNew();
        while (await PulumiSites.AnswersAsync(Http, outputs[StackOutputs.HealthUrl].Text, Options.Probe, ct))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(15))
                throw new InvalidOperationException($"{stack} still answers {outputs[StackOutputs.HealthUrl].Text} 15 s after its servers were killed: " +
                    string.Join("; ", servers.Select(s => $"{s.Name} {s.KillState}")));
            await Task.Delay(500, ct);
        }
        _say($"      {outputs[StackOutputs.ServiceIpv4].Text} no longer answers");
    }

    /// <summary>The zone's A record as the drill's PowerDNS answers it now.</summary>
    public async Task<IReadOnlyList<string>> DnsAnswerAsync(CancellationToken ct)
    {
        var dns = Topology.DnsStack!.Dns!;
        var name = DnsName.InZone(dns.Records[0].Name, dns.Zone);
        var answer = await new WireDnsClient().QueryAsync(new IPEndPoint(IPAddress.Parse(DnsAddress), DnsPort), name, RecordType.A, ct);
        return answer.Answers.Where(a => a.Type == (ushort)RecordType.A).Select(a => a.Data).ToList();
    }

    /// <summary>Checks that DNS names <paramref name="site"/> and that every tenant's rows on it are production's; says each verdict.</summary>
    public async Task<bool> VerifyAsync(StackSpec site, CancellationToken ct)
    {
        var target = (await Pulumi.GetOutputsAsync(site.Name, ct))[StackOutputs.ServiceIpv4].Text;
        var dns = Topology.DnsStack!.Dns!;
        var addresses = await DnsAnswerAsync(ct);
        var allMatch = addresses.SequenceEqual([target]);
        _say($"      {DnsName.InZone(dns.Records[0].Name, dns.Zone)} A {string.Join(" ", addresses)}: {(allMatch ? $"moved to {site.Name}" : "NOT MOVED")}");
        return await RowsMatchAsync(site, ct) && allMatch;
    }

    /// <summary>Whether every tenant's rows on <paramref name="site"/>'s data server (but those a run left out) are the seeded ones; says each verdict.</summary>
    public async Task<bool> RowsMatchAsync(StackSpec site, CancellationToken ct, IReadOnlyCollection<string>? leftOut = null)
    {
        var data = await DataServerAsync(SitePlan.For(site.Mode == SiteMode.Cold ? site with { Mode = SiteMode.Mvd } : site), ct);
        var allMatch = true;
        foreach (var t in Topology.Tenants.Where(t => leftOut?.Contains(t.Name) != true))
        {
            var counts = await TenantSeed.CountRowsAsync(SocketOf(data), 5432, t.Name, ct, OperatorRole);
            var same = counts.SequenceEqual(Seeded[t.Name]);
            allMatch &= same;
            _say($"      {t.Name,-16} {counts.Values.Sum(),9} rows on {site.Name} {(same ? "= production" : "DIFFERS from production")}");
        }
        return allMatch;
    }

    /// <summary>
    /// Until every server of <paramref name="stack"/> has finished cloud-init; a failed one throws with its line.
    /// </summary>
    public async Task WaitBootedAsync(string stack, CancellationToken ct)
    {
        var servers = EmulatedCloud.Read(Emulation).Servers.Values.Where(s => s.Stack == stack).Select(s => EmulatedServer.Attach(s.Record, _log)).ToList();
        var clock = Stopwatch.StartNew();
        var waits = servers.Select(async s =>
        {
            await s.WaitForBootstrapAsync(BootLimit, ct);
            _say($"      {s.Name,-24} cloud-init finished after {Durations.Format(clock.Elapsed)}");
        }).ToList();
        // The first failed server stops the wait: the others need not finish for the drill to stop.
        while (waits.Count > 0)
        {
            var done = await Task.WhenAny(waits);
            waits.Remove(done);
            await done;
        }
    }

    /// <summary>Watches the servers of <paramref name="stack"/> as they appear; returns the first failed bootstrap, or runs until cancelled.</summary>
    public async Task<ServerBootException?> WatchAsync(string stack, CancellationToken ct)
    {
        var done = new HashSet<string>();
        while (true)
        {
            await Task.Delay(1000, ct);
            foreach (var s in EmulatedCloud.Read(Emulation).Servers.Values.Where(s => s.Stack == stack && !done.Contains(s.Record.Name)))
            {
                try
                {
                    if (await EmulatedServer.Attach(s.Record, _log).FinishedAsync(ct)) done.Add(s.Record.Name);
                }
                catch (ServerBootException e) { return e; }
            }
        }
    }

    /// <summary>Runs <paramref name="run"/> while watching <paramref name="stack"/>'s servers: a failed bootstrap stops it with the server's line.</summary>
    public async Task<int> WatchedAsync(string stack, Func<CancellationToken, Task<int>> run, CancellationToken ct)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // cloud-init's verdict is on the server: a failed bootstrap stops the run with its line instead of a health timeout.
        var watcher = WatchAsync(stack, watch.Token);
        var running = run(watch.Token);
        var first = await Task.WhenAny(running, watcher);
        if (first == watcher && await watcher is { } failure)
        {
            await watch.CancelAsync();
            try { await running; } catch (OperationCanceledException) { }
            throw failure;
        }
        var code = await running;
        await watch.CancelAsync();
        try { await watcher; } catch (OperationCanceledException) { }
        return code;
    }

    /// <summary>The servers of <paramref name="stack"/> whose bootstrap failed, with their lines (a run that failed says which step, they say why).</summary>
    public async Task<IReadOnlyList<ServerBootException>> BootFailuresAsync(string stack, CancellationToken ct)
    {
        var failures = new List<ServerBootException>();
        foreach (var server in EmulatedCloud.Read(Emulation).Servers.Values.Where(s => s.Stack == stack))
        {
            try { await EmulatedServer.Attach(server.Record, _log).FinishedAsync(ct); }
            catch (ServerBootException e) { failures.Add(e); }
        }
        return failures;
    }

    /// <summary>The names of the servers the emulation runs for <paramref name="stack"/> (running or killed).</summary>
    public IReadOnlyList<string> ServersOf(string stack) =>
        EmulatedCloud.Read(Emulation).Servers.Values.Where(s => s.Stack == stack).Select(s => s.Record.Name).ToList();

    /// <summary>Unmounts the data volume, stops the PowerDNS and removes every server, copy, link and the world's folder.</summary>
    public async Task DisposeAsync()
    {
        if (_mounted is not null && !await HostCommand.TryAsync("umount", _mounted)) await HostCommand.TryAsync("umount", "--lazy", _mounted);
        _mounted = null;
        if (_pdns is not null) await _pdns.StopAsync();
        await RemoveAsync(Home, _log);
    }

    /// <summary>Removes what a world left in <paramref name="home"/> (its servers, PowerDNS, folder); the emulator's log is kept beside it.</summary>
    public static async Task RemoveAsync(string home, ILogger log)
    {
        var emulation = Path.Combine(home, "emulation");
        // The emulator's own log outlives the clean-up: it says what each `pulumi up` booted, replaced or refused.
        var emulatorLog = Path.Combine(emulation, "emulator.log");
        if (File.Exists(emulatorLog)) File.Copy(emulatorLog, home.TrimEnd('/') + "-emulator.log", overwrite: true);
        var volume = Path.Combine(home, "volume");
        if (File.ReadAllLines("/proc/self/mounts").Any(l => l.Split(' ').ElementAtOrDefault(1) == volume)) await HostCommand.TryAsync("umount", "--lazy", volume);
        await EmulatedCloud.RemoveAllAsync(emulation, log);
        await DrillCommand.StopDnsAsync(Path.Combine(home, "dns"));
        if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static string SocketOf(EmulatedServer server) => $"/proc/{server.LeaderPid}/root/run/postgresql";

    /// <summary>A tenant's files on the data volume: the data server binds /srv/tenants from its tenants directory (DataVolume.For).</summary>
    private static string FilesOf(string volume, string tenant) => Path.Combine(volume, "tenants", tenant, "files");

    /// <summary>
    /// The data server's volume also mounted on this machine, as an operator reads a disk: the same file system (the kernel
    /// shares one superblock per device), so what the drill writes there is the server's. Tools given a path under
    /// /proc/PID/root cannot work in it (their getcwd fails across mount namespaces; restic's does).
    /// </summary>
    private static async Task<string> MountVolumeAsync(string device, string at, CancellationToken ct)
    {
        Directory.CreateDirectory(at);
        await HostCommand.RunAsync("mount", [device, at], ct);
        return at;
    }

    private async Task<EmulatedServer> DataServerAsync(SitePlan plan, CancellationToken ct)
    {
        var name = plan.DataServer?.Name ?? throw new InvalidOperationException($"{plan.Stack.Name} has no data server");
        var record = EmulatedCloud.Read(Emulation).Servers.GetValueOrDefault(name)?.Record
            ?? throw new InvalidOperationException($"{name} does not run in the emulation");
        var server = EmulatedServer.Attach(record, _log);
        var exists = await server.ExecAsync(["runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-X", "-tA", "-c",
            $"SELECT 1 FROM pg_roles WHERE rolname = '{OperatorRole}'"], ct);
        if (exists.Output.Trim() != "1")
        {
            var made = await server.ExecAsync(["runuser", "-u", "postgres", "--", "createuser", "--superuser", OperatorRole], ct);
            if (made.ExitCode != 0) throw new InvalidOperationException($"{name}: createuser {OperatorRole} failed: {made.Errors.Trim()}");
        }
        return server;
    }

    /// <summary>
    /// How long the world waits for the agent's first run after the seeding: the timer's first start (a minute after it is
    /// enabled), two intervals and the run itself; generous, because other work on the machine stretches every run.
    /// </summary>
    internal static TimeSpan HeartbeatLimit(TimeSpan interval) => TimeSpan.FromMinutes(1) + interval + interval + TimeSpan.FromMinutes(8);

    /// <summary>
    /// Until the vault holds a heartbeat of an agent run that started after <paramref name="since"/> (so it backed up the
    /// seeded rows) and backed up every tenant; a run that named failures stops the world with them.
    /// </summary>
    private static async Task<BackupHeartbeat> WaitForAgentAsync(BackupCatalog catalog, string vault, string server,
        DateTimeOffset since, TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        BackupHeartbeat? last = null;
        while (true)
        {
            await catalog.ForgetListingAsync(ct);
            last = await catalog.HeartbeatAsync(ct) ?? last;
            // Whole seconds on the server: a run that started in the seeding's last second is not counted, the next one is.
            if (last is { } h && h.Started >= since)
            {
                if (h.Succeeded) return h;
                throw new InvalidOperationException($"the backup agent on {server} ran ({h.RunId}) but backed up {h.BackedUp} of {h.Tenants} tenants into {vault}: " +
                    string.Join("; ", h.Failures.Select(f => f.ToString())));
            }
            if (clock.Elapsed > limit)
                throw new InvalidOperationException($"no heartbeat of a backup agent run started after the seeding reached {vault} within {Durations.Format(limit)} " +
                    $"(the newest: {(last is null ? "none" : $"{last.RunId}, started {last.Started:u}")}): is {BackupAgent.Timer} active on {server}? " +
                    "Its journal says why (identifier failover-backup)");
            // A look is one restic listing of the vault on this machine: once a second costs nothing, every 5 s lost up to 5.
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    /// <summary>
    /// The shipped stack files copied into the world's project, nothing in the checkout changed: the DNS stack served by
    /// the world's PowerDNS (its provider is the one thing of the zone emulated); production's backup schedule a minute,
    /// so its agent's timer runs while one waits; and production's migration hooks (failover:migrate), which an operator
    /// would run over ssh, entering its data server: freeze and thaw make every tenant's database read-only and back, the
    /// final backup is the agent's own service started once more.
    /// </summary>
    private Topology CopyProject(Topology shipped, string project)
    {
        var stacks = Directory.CreateDirectory(Path.Combine(project, "infra", "stacks")).FullName;
        File.WriteAllText(Path.Combine(project, "Pulumi.yaml"),
            "name: failover\nruntime: dotnet\nmain: infra/\nstackConfigDir: infra/stacks\ndescription: the cloud drill's copy of the shipped topology\n");
        foreach (var f in Directory.GetFiles(shipped.StacksDirectory, "Pulumi.*.yaml"))
        {
            var text = File.ReadAllText(f);
            if (shipped.DnsStack is { } d && Path.GetFileName(f) == $"Pulumi.{d.Name}.yaml")
            {
                var lines = text.Split('\n').ToList();
                var at = lines.FindIndex(l => l.TrimStart().StartsWith("provider:", StringComparison.Ordinal) && lines.IndexOf(l) > lines.FindIndex(x => x.StartsWith("  failover:dns:")));
                var indent = lines[at][..(lines[at].Length - lines[at].TrimStart().Length)];
                lines[at] = $"{indent}provider: powerdns";
                lines.Insert(at + 1, $"{indent}apiUrl: http://{DnsAddress}:{DnsApiPort}");
                lines.Insert(at + 2, $"{indent}servers: [{DnsAddress}:{DnsPort}]");
                text = string.Join('\n', lines);
            }
            File.WriteAllText(Path.Combine(stacks, Path.GetFileName(f)), text);
        }
        // Every cloud site a migration may leave gets hooks into its own data server: production, and each standby, which
        // serves once a failover or a migration has moved production there.
        var copied = TopologyLoader.Load(stacks);
        foreach (var site in copied.Stacks.Where(s => s.Role is (Role.Production or Role.Standby) && s.Site.Provider is (Provider.Hetzner or Provider.Aws)))
        {
            var data = SitePlan.For(site.Mode == SiteMode.Cold ? site with { Mode = SiteMode.Mvd } : site).DataServer?.Name
                ?? throw new UsageException($"{site.File}: {site.Name} has no data server");
            File.WriteAllText(site.File, WithDrillSettings(File.ReadAllText(site.File), site.File, site.Role == Role.Production ? Schedule : null, MigrationHooks(Ssh, data)));
        }
        return TopologyLoader.Load(stacks);
    }

    /// <summary>The freeze, thaw and final backup of a migration from a site whose data server is <paramref name="data"/>, over <paramref name="ssh"/>.</summary>
    internal static (IReadOnlyList<string> Freeze, IReadOnlyList<string> Thaw, IReadOnlyList<string> Backup) MigrationHooks(string ssh, string data)
    {
        string Each(string sql) =>
            $"for t in $FAILOVER_TENANTS; do {Sh.Quote(ssh)} {data} runuser -u postgres -- psql --no-psqlrc -X -q -v ON_ERROR_STOP=1 -c \"{sql}\" || exit 1; done";
        // The agent's timer pauses while writes are frozen: on a short schedule it would start run after run, and the final
        // backup must be a run that started after the freeze, not one the timer started before it.
        return (
            [$"{Sh.Quote(ssh)} {data} systemctl stop {BackupAgent.Timer}",
             Each("ALTER DATABASE \\\"$t\\\" SET default_transaction_read_only = on") + "; " +
             Each("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$t' AND pid <> pg_backend_pid()")],
            [Each("ALTER DATABASE \\\"$t\\\" SET default_transaction_read_only = off"), $"{Sh.Quote(ssh)} {data} systemctl start {BackupAgent.Timer}"],
            // The agent's own run, once the one its timer may have started before the freeze has finished.
            [$"{Sh.Quote(ssh)} {data} sh -c 'while [ \"$(systemctl show -p ActiveState --value {BackupAgent.Service})\" = activating ]; do sleep 1; done; " +
             $"systemctl start {BackupAgent.Service}'"]);
    }

    /// <summary>
    /// A stack file's text with failover:backup.schedule set (when <paramref name="schedule"/> is given: production's file
    /// holds the topology's backup settings) and failover:migrate added, edited as text (the rest stays as the operator
    /// wrote it, comments included, so the migration's role rewrite meets the shipped layout).
    /// </summary>
    internal static string WithDrillSettings(string text, string file, string? schedule,
        (IReadOnlyList<string> Freeze, IReadOnlyList<string> Thaw, IReadOnlyList<string> Backup) hooks)
    {
        var lines = text.Split('\n').ToList();
        static int Indent(string l) => l.Length - l.TrimStart().Length;
        if (schedule is not null) SetSchedule(lines, file, schedule);

        var config = lines.FindIndex(l => l.TrimEnd() == "config:");
        if (config < 0) throw new UsageException($"{file}: no config: section");
        var pad = new string(' ', lines.Skip(config + 1).Where(l => l.Trim().Length > 0).Select(Indent).FirstOrDefault(2));
        static string Quoted(string c) => "\"" + c.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var block = new List<string> { $"{pad}# The cloud drill's: its migration hooks enter the data server as an operator's ssh would.", $"{pad}failover:migrate:" };
        foreach (var (stage, commands) in new[] { ("freeze", hooks.Freeze), ("thaw", hooks.Thaw), ("backup", hooks.Backup) })
        {
            block.Add($"{pad}{pad}{stage}:");
            block.AddRange(commands.Select(c => $"{pad}{pad}{pad}- {Quoted(c)}"));
        }
        lines.InsertRange(config + 1, block);
        return string.Join('\n', lines);
    }

    private static void SetSchedule(List<string> lines, string file, string schedule)
    {
        static int Indent(string l) => l.Length - l.TrimStart().Length;
        var backup = lines.FindIndex(l => l.TrimStart().StartsWith("failover:backup:", StringComparison.Ordinal));
        if (backup < 0) throw new UsageException($"{file}: production has no failover:backup, the drill cannot shorten its schedule");
        var schedulePattern = new System.Text.RegularExpressions.Regex(@"(\bschedule:\s*)[^,}\s#]+");
        var at = schedulePattern.IsMatch(lines[backup]) ? backup
            : lines.FindIndex(backup + 1, l => l.Trim().Length > 0 && (Indent(l) <= Indent(lines[backup]) || schedulePattern.IsMatch(l)));
        if (at < 0 || !schedulePattern.IsMatch(lines[at])) throw new UsageException($"{file}: failover:backup has no schedule");
        lines[at] = schedulePattern.Replace(lines[at], "${1}" + schedule, 1);
    }

    /// <summary>The world's `ssh`: enters a server's container (its leader's namespaces, found in the emulation's state) and runs the command as root.</summary>
    private void WriteSsh()
    {
        Directory.CreateDirectory(Home);
        File.WriteAllText(Ssh,
            "#!/bin/sh\n# The cloud drill's ssh: runs a command as root on one of the emulated servers (ssh SERVER COMMAND...).\n" +
            "server=$1; shift\n" +
            $"pid=$(jq -r --arg s \"$server\" '.Servers[$s].Record.LeaderPid // empty' {Sh.Quote(Path.Combine(Emulation, "cloud.json"))})\n" +
            "[ -n \"$pid\" ] && [ -d \"/proc/$pid\" ] || { echo \"ssh: connect to host $server: no such server running\" >&2; exit 255; }\n" +
            "exec nsenter -t \"$pid\" -a -- \"$@\"\n");
        File.SetUnixFileMode(Ssh, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    /// <summary>The emulated `pulumi`: this very program's hidden `pulumi-emulator` verb, behind a script the pulumi options name.</summary>
    private static string WritePulumi(string home)
    {
        Directory.CreateDirectory(home);
        var assembly = typeof(EmulatorProgram).Assembly.Location;
        var process = Environment.ProcessPath ?? "dotnet";
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : Path.GetFileName(process) == "dotnet" ? process : "dotnet";
        // A single-file release binary has no assembly path: it is its own host.
        var command = assembly.Length == 0 ? Sh.Quote(process) : $"{Sh.Quote(host)} {Sh.Quote(assembly)}";
        var path = Path.Combine(home, "pulumi");
        File.WriteAllText(path, $"#!/bin/sh\n# The cloud drill's pulumi: failover's emulator of the Hetzner and AWS stacks.\nexec {command} {EmulatorProgram.Verb} \"$@\"\n");
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        return path;
    }
}
