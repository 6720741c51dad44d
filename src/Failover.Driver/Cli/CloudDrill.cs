using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Cloud;
using Failover.Driver.Dns;
using Failover.Driver.Emulation;
using Failover.Driver.Emulation.PulumiCli;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover drill --stacks infra/stacks`: the cloud path on this machine. The `pulumi` it runs is the emulator
/// (`failover pulumi-emulator`), whose `up` boots every server Core plans as a container from exactly its rendered
/// user data (docs/server-emulation.md). Production boots, is seeded and backed up into the vault, is lost (its
/// containers killed); `failover run` provisions the standby through the emulator, whose cloud-init restores every
/// tenant; DNS moves on a real PowerDNS standing in for the DNS stack's provider; rows are checked; all is removed.
/// </summary>
internal static class CloudDrill
{
    /// <summary>The drill's PowerDNS (the zone's provider emulated) on a loopback address of its own.</summary>
    public const string DnsAddress = "127.0.14.53";
    public const int DnsPort = 5300, DnsApiPort = 8281;

    /// <summary>How long a server may take from its container's start to a finished cloud-init.</summary>
    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(App app, Topology shipped, ILogger log, double scale, bool keep, bool cleanOnly, string stateRoot, CancellationToken ct)
    {
        void Say(string line) => app.Print(line + "\n");
        var home = Path.Combine(stateRoot, "cloud-drill");
        var emulation = Path.Combine(home, "emulation");
        var dnsDir = Path.Combine(home, "dns");
        async Task CleanAsync()
        {
            // The emulator's own log outlives the clean-up: it says what each `pulumi up` booted, replaced or refused.
            var emulatorLog = Path.Combine(emulation, "emulator.log");
            if (File.Exists(emulatorLog)) File.Copy(emulatorLog, Path.Combine(stateRoot, "cloud-drill-emulator.log"), overwrite: true);
            await EmulatedCloud.RemoveAllAsync(emulation, log);
            await DrillCommand.StopDnsAsync(dnsDir);
            if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
        }
        if (cleanOnly) { await CleanAsync(); Say("Cloud drill leftovers removed."); return ExitCodes.Ok; }

        var clock = Stopwatch.StartNew();
        Say("[1/8] checking what the drill needs: Debian packages, the cached Debian root the servers boot from");
        var installed = await DebianPackages.EnsureAsync(DebianPackages.Drill, Say, ct);
        Say(installed.Count == 0 ? "      packages all present" : $"      installed {string.Join(", ", installed)}");
        await CleanAsync();
        var root = await DebianRoot.EnsureAsync(DebianRoot.DefaultCache, DebianRoot.UserDataPackages, log, ct);
        Say($"      root {root}");

        var topology = CopyProject(shipped, Path.Combine(home, "project"));
        var prod = topology.Production;
        var standby = topology.Standbys.FirstOrDefault(s => s.Site.Provider == Provider.Hetzner)
            ?? topology.Standbys.FirstOrDefault(s => s.Site.Provider == Provider.Aws)
            ?? throw new UsageException("the cloud drill needs a Hetzner or AWS standby stack");
        var dnsStack = topology.DnsStack ?? throw new UsageException("the cloud drill needs a dns stack");
        var dns = dnsStack.Dns!;

        var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var passphrase = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        app.Secrets.Add(apiKey);
        app.Secrets.Add(passphrase);
        var variable = app.Variable;
        var pulumiPath = WritePulumi(home);
        app.Variable = name => name switch
        {
            RunPortsFactory.DnsApiKeyVariable => apiKey,
            RunPortsFactory.PulumiVariable => pulumiPath,
            _ => variable(name),
        };
        var savedEnvironment = app.PulumiEnvironment;
        app.PulumiEnvironment = new Dictionary<string, string>(savedEnvironment)
        {
            [EmulatedCloud.DirectoryVariable] = emulation,
            [EmulatedCloud.BlockVariable] = variable(EmulatedCloud.BlockVariable) ?? EmulatedCloud.DefaultBlock,
            ["PULUMI_STANDIN_STATE"] = Path.Combine(home, "pulumi-state"),
            ["PULUMI_CONFIG_PASSPHRASE"] = passphrase,
        };
        var project = RunCommands.ProjectDirectory(topology);
        var pulumi = RunPortsFactory.Pulumi(project, app.Variable, app.PulumiEnvironment, app.Secrets, log, app.Time);
        var store = new RunStore(Path.Combine(stateRoot, "cloud-runs"));
        var pdns = new PowerDnsServer(dnsDir, DnsAddress, DnsPort, DnsApiPort, apiKey);
        var succeeded = false;
        string? mounted = null;
        try
        {
            Say($"[2/8] starting the DNS server (PowerDNS, standing in for {dnsStack.Name}) on {DnsAddress}:{DnsPort} with zone {dns.Zone}");
            await pdns.StartAsync(ct);
            await File.WriteAllTextAsync(Path.Combine(dnsDir, "pid"), pdns.Pid.ToString(), ct);

            var vault = RestoreSource.VaultFor(topology, standby);
            Say($"[3/8] pulumi up {vault.Name}, {standby.Name} ({standby.Mode.ToString().ToLowerInvariant()}) and {prod.Name}: the vault, the standby as deployed before the disaster, and production's servers booted from their user data");
            foreach (var s in new[] { vault, standby, prod })
            {
                await pulumi.SelectOrCreateStackAsync(s.Name, ct);
                await pulumi.UpAsync(s.Name, null, ct);
            }
            var prodOutputs = await pulumi.GetOutputsAsync(prod.Name, ct);
            var prodAddress = prodOutputs[StackOutputs.ServiceIpv4].Text;
            await pdns.CreateZoneAsync(dns.Zone, dns.Records.Where(r => r.Type == "A").Select(r => (r.Name, "A", new[] { prodAddress })), dns.TtlSeconds, ct);
            var bootClock = Stopwatch.StartNew();
            await WaitBootedAsync(emulation, prod.Name, log, Say, ct);
            Say($"      {prod.Name} booted in {Durations.Format(bootClock.Elapsed)}; it serves at {prodAddress}");

            var prodData = await DataServerAsync(emulation, SitePlan.For(prod), log, ct);
            var prodVolume = await MountVolumeAsync(emulation, prodData.Name, Path.Combine(home, "volume"), ct);
            mounted = prodVolume;
            Say($"[4/8] seeding {topology.Tenants.Count} tenants (scale {scale}) into {prodData.Name}'s PostgreSQL");
            var seeded = new Dictionary<string, IReadOnlyDictionary<string, long>>();
            foreach (var t in topology.Tenants)
            {
                await TenantSeed.SeedAsync(t, SocketOf(prodData), 5432, FilesOf(prodVolume, t.Name), scale, ct, OperatorRole);
                seeded[t.Name] = await TenantSeed.CountRowsAsync(SocketOf(prodData), 5432, t.Name, ct, OperatorRole);
                Say($"      {t.Name,-16} tier {t.Tier}  {seeded[t.Name].Values.Sum(),9} rows");
            }

            var seededAt = app.Time.GetUtcNow();
            var agent = Failover.Core.Backup.BackupPlan.For(topology, prod);
            Say($"[5/8] waiting for the backup agent's own timer on {prodData.Name} (every {Durations.Format(agent.Interval)}: the drill's copy of failover:backup.schedule) to back every tenant up into {vault.Name}");
            var catalog = new BackupCatalog(new ResticRepository(RunPortsFactory.CloudVault(vault, pulumi), app.Secrets, log), app.Time, log);
            var heartbeat = await WaitForAgentAsync(catalog, vault.Name, prodData.Name, seededAt, HeartbeatLimit(agent.Interval), ct);
            Say($"      heartbeat of agent run {heartbeat.RunId}: {heartbeat.BackedUp} of {heartbeat.Tenants} tenants into {vault.Name}, " +
                $"finished {Durations.Format(heartbeat.Finished - seededAt)} after the seeding");

            Say($"[6/8] losing production: killing the containers of {prod.Name}");
            foreach (var server in EmulatedCloud.Read(emulation).Servers.Values.Where(s => s.Stack == prod.Name))
                await EmulatedServer.Attach(server.Record, log).KillAsync();
            if (await PulumiSites.AnswersAsync(Http, prodOutputs[StackOutputs.HealthUrl].Text, ct))
                throw new InvalidOperationException($"{prod.Name} still answers after its servers were killed");
            Say($"      {prodAddress} no longer answers");

            Say($"[7/8] failing over to {standby.Name}: `failover run`, its servers booted by the emulated `pulumi up`");
            var run = new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), RunKind.Failover, prod.Name, standby.Name, null, false,
                Environment.UserName, OperatorHost.Name);
            int code;
            using (var watch = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                // cloud-init's verdict is on the server: a failed bootstrap stops the run with its line instead of a health timeout.
                var watcher = WatchAsync(emulation, standby.Name, log, watch.Token);
                var failover = RunCommands.Execute(app, topology, standby, store, run, log, watch.Token);
                var first = await Task.WhenAny(failover, watcher);
                if (first == watcher && await watcher is { } failure)
                {
                    await watch.CancelAsync();
                    try { await failover; } catch (OperationCanceledException) { }
                    throw failure;
                }
                code = await failover;
                await watch.CancelAsync();
                try { await watcher; } catch (OperationCanceledException) { }
            }
            if (code != ExitCodes.Ok)
            {
                // The run says which step failed; the server says why (a bootstrap that failed after the run gave up waiting).
                foreach (var server in EmulatedCloud.Read(emulation).Servers.Values.Where(s => s.Stack == standby.Name))
                {
                    try { await EmulatedServer.Attach(server.Record, log).FinishedAsync(ct); }
                    catch (ServerBootException e) { app.Error($"error: server {e.Server} did not come up: {e.Line}"); }
                }
                return code;
            }

            Say("[8/8] verifying: DNS answer, and every tenant's rows on the standby");
            var target = (await pulumi.GetOutputsAsync(standby.Name, ct))[StackOutputs.ServiceIpv4].Text;
            var name = DnsName.InZone(dns.Records[0].Name, dns.Zone);
            var answer = await new WireDnsClient().QueryAsync(new IPEndPoint(IPAddress.Parse(DnsAddress), DnsPort), name, RecordType.A, ct);
            var addresses = answer.Answers.Where(a => a.Type == (ushort)RecordType.A).Select(a => a.Data).ToList();
            var allMatch = addresses.SequenceEqual([target]);
            Say($"      {name} A {string.Join(" ", addresses)}: {(allMatch ? "moved to the standby" : "NOT MOVED")}");
            var standbyData = await DataServerAsync(emulation, SitePlan.For(topology.Find(standby.Name)! with { Mode = SiteMode.Mvd }), log, ct);
            foreach (var t in topology.Tenants)
            {
                var counts = await TenantSeed.CountRowsAsync(SocketOf(standbyData), 5432, t.Name, ct, OperatorRole);
                var same = counts.SequenceEqual(seeded[t.Name]);
                allMatch &= same;
                Say($"      {t.Name,-16} {counts.Values.Sum(),9} rows {(same ? "= production" : "DIFFERS from production")}");
            }
            succeeded = allMatch;
            Say(allMatch ? $"Cloud drill passed in {Durations.Format(clock.Elapsed)}: every tenant verified, DNS moved." : "Cloud drill FAILED: see the lines above.");
            return allMatch ? ExitCodes.Ok : ExitCodes.Failed;
        }
        catch (ServerBootException e)
        {
            app.Error($"error: server {e.Server} did not come up: {e.Line}");
            return ExitCodes.Failed;
        }
        finally
        {
            if (mounted is not null && !await HostCommand.TryAsync("umount", mounted)) await HostCommand.TryAsync("umount", "--lazy", mounted);
            app.PulumiEnvironment = savedEnvironment;
            app.Variable = variable;
            if (keep)
                Say($"Kept for inspection: the servers in {emulation} (cloud.json names them), PowerDNS on {DnsAddress}:{DnsPort}. Remove them with `failover drill --stacks {shipped.StacksDirectory} --clean`.");
            else
            {
                await pdns.StopAsync();
                await CleanAsync();
                Say(succeeded ? $"Cleaned up: no server, container, mount or address of the drill is left (reports stay in {store.Root})." : "Cleaned up.");
            }
        }
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>
    /// How long the drill waits for the agent's first run after the seeding: the timer's first start (a minute after it is
    /// enabled), two intervals and the run itself; generous, because other work on the machine stretches every run.
    /// </summary>
    internal static TimeSpan HeartbeatLimit(TimeSpan interval) => TimeSpan.FromMinutes(1) + interval + interval + TimeSpan.FromMinutes(8);

    /// <summary>
    /// Until the vault holds a heartbeat of an agent run that started after <paramref name="since"/> (so it backed up the
    /// seeded rows) and backed up every tenant; a run that named failures stops the drill with them.
    /// </summary>
    private static async Task<Failover.Core.Backup.BackupHeartbeat> WaitForAgentAsync(BackupCatalog catalog, string vault, string server,
        DateTimeOffset since, TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        Failover.Core.Backup.BackupHeartbeat? last = null;
        while (true)
        {
            await catalog.ForgetListingAsync(ct);
            last = await catalog.HeartbeatAsync(ct) ?? last;
            if (last is { } h && h.Started >= since)
            {
                if (h.Succeeded) return h;
                throw new InvalidOperationException($"the backup agent on {server} ran ({h.RunId}) but backed up {h.BackedUp} of {h.Tenants} tenants into {vault}: " +
                    string.Join("; ", h.Failures.Select(f => f.ToString())));
            }
            if (clock.Elapsed > limit)
                throw new InvalidOperationException($"no heartbeat of a backup agent run started after the seeding reached {vault} within {Durations.Format(limit)} " +
                    $"(the newest: {(last is null ? "none" : $"{last.RunId}, started {last.Started:u}")}): is {BackupAgentUnits} active on {server}? Its journal says why (identifier failover-backup)");
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
        }
    }

    private const string BackupAgentUnits = Failover.Core.Sites.BackupAgent.Timer;

    /// <summary>
    /// The drill reaches a server's PostgreSQL as an operator with root on it would: over its socket, seen from this
    /// machine through the container's root, as the role root (peer authentication), which the drill creates first.
    /// </summary>
    private const string OperatorRole = "root";

    private static string SocketOf(EmulatedServer server) => $"/proc/{server.LeaderPid}/root/run/postgresql";

    /// <summary>A tenant's files on the data volume: the data server binds /srv/tenants from its tenants directory (DataVolume.For).</summary>
    private static string FilesOf(string volume, string tenant) => Path.Combine(volume, "tenants", tenant, "files");

    /// <summary>
    /// The data server's volume also mounted on this machine, as an operator reads a disk: the same file system (the kernel
    /// shares one superblock per device), so what the drill writes there is the server's. Tools given a path under
    /// /proc/PID/root cannot work in it (their getcwd fails across mount namespaces; restic's does).
    /// </summary>
    private static async Task<string> MountVolumeAsync(string emulation, string server, string at, CancellationToken ct)
    {
        var device = EmulatedCloud.Read(emulation).Servers[server].Record.LoopDevices.FirstOrDefault()
            ?? throw new InvalidOperationException($"{server} has no volume");
        Directory.CreateDirectory(at);
        await HostCommand.RunAsync("mount", [device, at], ct);
        return at;
    }

    private static async Task<EmulatedServer> DataServerAsync(string emulation, SitePlan plan, ILogger log, CancellationToken ct)
    {
        var name = plan.DataServer?.Name ?? throw new InvalidOperationException($"{plan.Stack.Name} has no data server");
        var record = EmulatedCloud.Read(emulation).Servers.GetValueOrDefault(name)?.Record
            ?? throw new InvalidOperationException($"{name} does not run in the emulation");
        var server = EmulatedServer.Attach(record, log);
        var exists = await server.ExecAsync(["runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-X", "-tA", "-c",
            $"SELECT 1 FROM pg_roles WHERE rolname = '{OperatorRole}'"], ct);
        if (exists.Output.Trim() != "1")
        {
            var made = await server.ExecAsync(["runuser", "-u", "postgres", "--", "createuser", "--superuser", OperatorRole], ct);
            if (made.ExitCode != 0) throw new InvalidOperationException($"{name}: createuser {OperatorRole} failed: {made.Errors.Trim()}");
        }
        return server;
    }

    /// <summary>Until every server of <paramref name="stack"/> has finished cloud-init; a failed one throws with its line.</summary>
    private static async Task WaitBootedAsync(string emulation, string stack, ILogger log, Action<string> say, CancellationToken ct)
    {
        var servers = EmulatedCloud.Read(emulation).Servers.Values.Where(s => s.Stack == stack).Select(s => EmulatedServer.Attach(s.Record, log)).ToList();
        var clock = Stopwatch.StartNew();
        var waits = servers.Select(async s =>
        {
            await s.WaitForBootstrapAsync(BootLimit, ct);
            say($"      {s.Name,-24} cloud-init finished after {Durations.Format(clock.Elapsed)}");
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
    private static async Task<ServerBootException?> WatchAsync(string emulation, string stack, ILogger log, CancellationToken ct)
    {
        var done = new HashSet<string>();
        while (true)
        {
            await Task.Delay(1000, ct);
            foreach (var s in EmulatedCloud.Read(emulation).Servers.Values.Where(s => s.Stack == stack && !done.Contains(s.Record.Name)))
            {
                try
                {
                    if (await EmulatedServer.Attach(s.Record, log).FinishedAsync(ct)) done.Add(s.Record.Name);
                }
                catch (ServerBootException e) { return e; }
            }
        }
    }

    /// <summary>
    /// The shipped stack files copied into the drill's project, the DNS stack served by the drill's PowerDNS (its
    /// provider is the one thing of the zone emulated). Nothing in the checkout changes.
    /// </summary>
    private static Topology CopyProject(Topology shipped, string project)
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
        var topology = TopologyLoader.Load(stacks);
        // The agent's timer backs production up on failover:backup.schedule: the drill's copy runs it every minute (the
        // shortest schedule the reader accepts), so the drill waits a minute for it, not half an hour.
        var file = topology.Stacks.Single(s => s.Role == Role.Production).File;
        File.WriteAllText(file, WithBackupSchedule(File.ReadAllText(file), DrillSchedule, file));
        return TopologyLoader.Load(stacks);
    }

    /// <summary>The backup schedule of the drill's copy of the topology.</summary>
    internal const string DrillSchedule = "1m";

    /// <summary>A stack file's text with failover:backup.schedule set to <paramref name="schedule"/> (the rest unchanged but comments).</summary>
    internal static string WithBackupSchedule(string text, string schedule, string file)
    {
        var yaml = new YamlDotNet.RepresentationModel.YamlStream();
        using (var reader = new StringReader(text)) yaml.Load(reader);
        var config = (yaml.Documents[0].RootNode as YamlDotNet.RepresentationModel.YamlMappingNode)?.Children
            .FirstOrDefault(c => c.Key.ToString() == "config").Value as YamlDotNet.RepresentationModel.YamlMappingNode;
        var backup = config?.Children.FirstOrDefault(c => c.Key.ToString() == "failover:backup").Value as YamlDotNet.RepresentationModel.YamlMappingNode
            ?? throw new UsageException($"{file}: production has no failover:backup mapping, the drill cannot shorten its schedule");
        backup.Children[new YamlDotNet.RepresentationModel.YamlScalarNode("schedule")] = new YamlDotNet.RepresentationModel.YamlScalarNode(schedule);
        using var writer = new StringWriter();
        yaml.Save(writer, assignAnchors: false);
        return writer.ToString();
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
