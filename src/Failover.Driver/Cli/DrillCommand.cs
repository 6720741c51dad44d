using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover drill`: the whole job on one machine with the local provider: seed production, back it up,
/// lose it, fail over with the same engine as in the cloud, move DNS, verify every tenant, report, clean up.
/// </summary>
internal static class DrillCommand
{
    public static Command Build(App app)
    {
        var scale = new Option<double>("--scale") { HelpName = "FRACTION", Description = "Seed this fraction of each tenant's dataGb", DefaultValueFactory = _ => 1.0 };
        var keep = new Option<bool>("--keep") { Description = "Leave the sites, DNS server and vault running for inspection (stop them with `failover drill --clean`)" };
        var clean = new Option<bool>("--clean") { Description = "Only remove what a kept drill left behind" };
        var prepare = new Option<bool>("--prepare")
        {
            Description = "Only install what the drill needs (and, for a cloud topology, build the cached Debian root its servers boot from), then stop: a test run starts it early, beside other work",
        };
        var command = new Command("drill",
            "Run a complete failover drill on this machine, on the topology that --stacks names. A local topology\n" +
            "(examples/local) runs the local provider; a Hetzner/AWS one (infra/stacks) runs the cloud path: the `pulumi` it\n" +
            "runs is failover's emulator, whose `up` boots each server as a container from exactly its rendered user data\n" +
            "(as root; builds a cached Debian root once, a few minutes; docs/server-emulation.md). The local drill:\n" +
            "installs the Debian packages it needs when run as root (restic, postgresql, pdns-server, pdns-backend-sqlite3),\n" +
            "seeds production with tenants of different sizes, backs them up, loses the production site (its processes\n" +
            "killed, its address unreachable), fails over to the standby with the same engine as a real failover, moves\n" +
            "DNS and verifies it, checks every tenant's data, prints the report with RTO and RPO, and cleans up.\n\n" +
            "Examples:\n  failover drill --stacks examples/local\n  failover drill --stacks infra/stacks --scale 0.01\n  failover drill --stacks infra/stacks --prepare   only the packages and the cached root (minutes, once)\n  failover drill --stacks examples/local --scale 0.1\n  failover drill --stacks examples/local --keep   then status, rehearse, migrate: they find the drill's DNS key\n  failover drill --stacks examples/local --clean")
        {
            scale, keep, clean, prepare,
        };
        command.SetAction((parse, ct) => app.ExecuteAsync(parse, (topology, log) =>
            RunAsync(app, parse, topology, log, parse.GetValue(scale), parse.GetValue(keep), parse.GetValue(clean), parse.GetValue(prepare), ct)));
        return command;
    }

    private static async Task<int> RunAsync(App app, ParseResult parse, Topology topology, ILogger log, double scale, bool keep, bool cleanOnly, bool prepareOnly, CancellationToken ct)
    {
        void Say(string line) => app.Print(line + "\n");
        var prod = topology.Production;
        if (prod.Site.Provider is Provider.Hetzner or Provider.Aws)
        {
            // The shipped cloud topology: its run state stays on this machine (--state-dir, else .failover beside Pulumi.yaml), never in its S3 backend.
            var stateRoot = parse.GetValue(RunCommands.StateDir) is { } given ? Path.GetFullPath(given, app.WorkingDirectory)
                : Path.Combine(RunCommands.ProjectDirectory(topology), ".failover");
            if (prepareOnly) return await CloudDrill.PrepareAsync(app, log, ct);
            return await CloudDrill.RunAsync(app, topology, log, scale, keep, cleanOnly, stateRoot, ct);
        }
        if (prepareOnly)
        {
            var needed = await DebianPackages.EnsureAsync(DebianPackages.Drill, Say, ct);
            Say(needed.Count == 0 ? "Drill prepared: its Debian packages are all present." : $"Drill prepared: installed {string.Join(", ", needed)}.");
            return ExitCodes.Ok;
        }
        var standby = topology.Standbys.FirstOrDefault(s => s.Site.Provider == Provider.Local)
            ?? throw new UsageException("the drill needs a local standby stack (see examples/local)");
        var dnsStack = topology.DnsStack is { Dns.Provider: DnsProvider.PowerDns } d && d.Site.Provider == Provider.Local ? d
            : throw new UsageException("the drill needs a local dns stack with provider powerdns (see examples/local)");
        if (prod.Site.Provider != Provider.Local) throw new UsageException($"{prod.Name} is not a local site: the drill runs the local provider (try --stacks examples/local)");

        var store = RunCommands.Store(app, parse, topology);
        var project = RunCommands.ProjectDirectory(topology);
        var sites = RunPortsFactory.LocalSitesOf(store, app.Options);
        var dnsDir = Path.Combine(store.Root, "dns");
        var vaultPath = DrillVault(topology, project, store);
        async Task CleanAsync()
        {
            await StopDnsAsync(dnsDir);
            await sites.RemoveAllAsync(topology.Stacks, CancellationToken.None);
            // Only what the drill made: its PowerDNS folder, and its vault if it is a restic repository (and its password file).
            if (File.Exists(Path.Combine(dnsDir, "pdns.conf")) || File.Exists(Path.Combine(dnsDir, "pid"))) Directory.Delete(dnsDir, true);
            if (Directory.Exists(vaultPath) && (File.Exists(Path.Combine(vaultPath, "config")) || !Directory.EnumerateFileSystemEntries(vaultPath).Any()))
                Directory.Delete(vaultPath, true);
            if (File.Exists(vaultPath + ".password")) File.Delete(vaultPath + ".password");
            store.ClearCurrent();
            CredentialsFile.Remove(store.Root);
            MarkSitesRemoved(store, app.Time.GetUtcNow());
        }
        if (cleanOnly) { await CleanAsync(); Say("Drill leftovers removed."); return ExitCodes.Ok; }

        var clock = Stopwatch.StartNew();
        Say($"Failover drill: {prod.Name} ({prod.Site.Address}) -> {standby.Name} ({standby.Site.Address}), DNS {dnsStack.Dns!.Zone} on {dnsStack.Site.Address}");
        Say("[1/7] checking the Debian packages the drill needs");
        var installed = await DebianPackages.EnsureAsync(DebianPackages.Drill, Say, ct);
        Say(installed.Count == 0 ? "      all present" : $"      installed {string.Join(", ", installed)}");
        await CleanAsync();

        var dns = dnsStack.Dns!;
        var server = IPEndPoint.Parse(dns.Servers.FirstOrDefault() ?? $"{dnsStack.Site.Address}:53");
        var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        app.Secrets.Add(apiKey);
        var variable = app.Variable;
        app.Variable = name => name == RunPortsFactory.DnsApiKeyVariable ? apiKey : variable(name); // the drill's own DNS server
        var pdns = new PowerDnsServer(dnsDir, server.Address.ToString(), server.Port, new Uri(dns.ApiUrl!).Port, apiKey) { ApiTimeout = app.Options.Http };
        var succeeded = false;
        try
        {
            Say($"[2/7] starting the DNS server (PowerDNS) on {server} with zone {dns.Zone}");
            await pdns.StartAsync(ct);
            await pdns.CreateZoneAsync(dns.Zone, dns.Records.Where(r => r.Type == "A").Select(r => (r.Name, "A", new[] { prod.Site.Address! })), dns.TtlSeconds, ct);
            await File.WriteAllTextAsync(Path.Combine(dnsDir, "pid"), pdns.Pid.ToString(), ct);

            Say($"[3/7] starting production {prod.Name} on {prod.Site.Address} and seeding {topology.Tenants.Count} tenants (scale {scale})");
            await sites.ProvisionAsync(prod, [], ct);
            var cluster = sites.Cluster(prod);
            var seeded = new Dictionary<string, IReadOnlyDictionary<string, long>>();
            foreach (var t in topology.Tenants)
            {
                await TenantSeed.SeedAsync(t, cluster.Address, cluster.Port, sites.FilesDirectory(prod, t.Name), scale, ct);
                seeded[t.Name] = await TenantSeed.CountRowsAsync(cluster.Address, cluster.Port, t.Name, ct);
                Say($"      {t.Name,-16} tier {t.Tier}  {seeded[t.Name].Values.Sum(),9} rows");
            }

            Say($"[4/7] backing up every tenant into the vault {vaultPath}");
            var backups = await LocalBackup.RunAsync(topology, sites, project, app.Secrets, app.Time, log, Say, ct);
            if (backups.Any(b => !b.Succeeded)) throw new InvalidOperationException("the backup failed; the drill stops here");

            Say($"[5/7] losing production: killing its PostgreSQL on {prod.Site.Address}");
            cluster.Kill();
            if (await sites.IsServingAsync(prod, ct)) throw new InvalidOperationException($"{prod.Site.Address} still answers after the kill");
            Say($"      {prod.Site.Address}:{cluster.Port} no longer answers");

            Say($"[6/7] failing over to {standby.Name}: the same engine as `failover run`");
            var run = RunCommands.Stamp(app, parse, topology, standby, new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), RunKind.Failover, prod.Name, standby.Name, null, false,
                Environment.UserName, OperatorHost.Name));
            var code = await RunCommands.Execute(app, topology, standby, store, run, log, ct);
            if (code != ExitCodes.Ok) return code;

            Say("[7/7] verifying: DNS answer, and every tenant's rows on the standby");
            var answer = await new WireDnsClient().QueryAsync(server, DnsName.InZone(dns.Records[0].Name, dns.Zone), RecordType.A, ct);
            var addresses = answer.Answers.Where(a => a.Type == (ushort)RecordType.A).Select(a => a.Data).ToList();
            var dnsMoved = addresses.SequenceEqual([standby.Site.Address!]);
            Say($"      {DnsName.InZone(dns.Records[0].Name, dns.Zone)} A {string.Join(" ", addresses)}: {(dnsMoved ? "moved to the standby" : "NOT MOVED")}");
            var target = sites.Cluster(standby);
            var allMatch = dnsMoved;
            foreach (var t in topology.Tenants)
            {
                var counts = await TenantSeed.CountRowsAsync(target.Address, target.Port, t.Name, ct);
                var same = counts.SequenceEqual(seeded[t.Name]);
                allMatch &= same;
                Say($"      {t.Name,-16} {counts.Values.Sum(),9} rows {(same ? "= production" : "DIFFERS from production")}");
            }
            succeeded = allMatch;
            Say(allMatch
                ? $"Drill passed in {Durations.Format(clock.Elapsed)}: every tenant verified, DNS moved."
                : "Drill FAILED: see the lines above.");
            return allMatch ? ExitCodes.Ok : ExitCodes.Failed;
        }
        finally
        {
            if (keep)
            {
                // The next commands of the walk-through (status, rehearse, migrate back, --confirm) need the API key only this process knew.
                CredentialsFile.Write(store.Root, new Dictionary<string, string> { [RunPortsFactory.DnsApiKeyVariable] = apiKey });
                Say($"Kept for inspection: PowerDNS on {server}, PostgreSQL on {standby.Site.Address}, vault {vaultPath}. Remove them with `failover drill --clean`.");
                Say($"The PowerDNS API key is in {Path.Combine(store.Root, CredentialsFile.FileName)} (owner-only), where `failover status`, `rehearse` and `migrate` find it.");
            }
            else
            {
                await pdns.StopAsync();
                await CleanAsync();
                Say(succeeded ? "Cleaned up: no drill process or directory is left (reports stay in " + Path.Combine(store.Root, "runs") + ")." : "Cleaned up.");
            }
        }
    }

    /// <summary>
    /// The drill's vault: a directory vault inside the drill's state directory, because the drill and its clean-up delete it.
    /// Anything else (an S3 vault, <c>path: ../x</c> or <c>/</c>) is refused naming the file and key, before anything is touched.
    /// </summary>
    private static string DrillVault(Topology topology, string project, RunStore store)
    {
        var stack = topology.Find(topology.Backup.Vaults[0])!;
        if (stack.Vault is not { Kind: VaultKind.Directory, Path: { } path })
            throw new TopologyException(new TopologyProblem(stack.File, "failover:vault.kind", null,
                $"the drill backs up into a directory vault it creates and deletes, and {stack.Name} is of kind {stack.Vault?.Kind.ToString().ToLowerInvariant() ?? "(none)"}",
                "run the drill on a local topology (--stacks examples/local) whose vault has kind: directory"));
        var full = Path.GetFullPath(path, project);
        var root = Path.GetFullPath(store.Root) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
            throw new TopologyException(new TopologyProblem(stack.File, "failover:vault.path", null,
                $"'{path}' ({full}) is outside the drill's state directory {root}: the drill deletes its vault when it cleans up",
                $"write a path inside the state directory, e.g. path: {Path.GetRelativePath(project, Path.Combine(store.Root, "local", "vault"))}"));
        return full;
    }

    /// <summary>
    /// The runs of this store moved service to local sites the clean-up just removed: say so in their journals,
    /// so `failover status` and `failover migrate` stop taking their target for the serving site.
    /// </summary>
    private static void MarkSitesRemoved(RunStore store, DateTimeOffset at)
    {
        foreach (var id in store.Runs())
        {
            var records = store.ReadJournal(id);
            if (records.Count == 0 || records.Any(r => r.Event == JournalEvent.SitesRemoved)) continue;
            using var journal = store.OpenJournal(id);
            journal.Append(new JournalRecord(JournalEvent.SitesRemoved, at));
        }
    }

    /// <summary>Stops a DNS server a kept drill left running (its pid is in the dns folder).</summary>
    internal static async Task StopDnsAsync(string dnsDir)
    {
        var pidFile = Path.Combine(dnsDir, "pid");
        if (!File.Exists(pidFile) || !int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid)) return;
        try
        {
            using var p = Process.GetProcessById(pid);
            if (p.ProcessName.Contains("pdns", StringComparison.Ordinal)) { p.Kill(); await p.WaitForExitAsync(); }
        }
        catch (ArgumentException) { }
    }
}
