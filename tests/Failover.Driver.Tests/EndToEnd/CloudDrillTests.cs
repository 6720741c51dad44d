using System.Diagnostics;
using Failover.Driver.Cli;
using Failover.Driver.Emulation;
using Failover.Driver.Tests.Support;
using Xunit.Abstractions;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// The cloud path whole, on this machine (as root): `failover drill --stacks infra/stacks` with the emulated `pulumi`
/// booting every server of production and the standby from the user data Core renders, the standby's cloud-init
/// restoring every tenant, DNS moving on PowerDNS. Only the providers' APIs are emulated. Servers use the links of
/// 198.18.15.0/24 (RFC 2544's test range), PowerDNS 127.0.14.53: nobody else's.
/// </summary>
public sealed class CloudDrillTests(ITestOutputHelper output)
{
    private const string Block = "198.18.15.0";

    private static (int Code, string Output) Drill(string stacks, string state, params string[] more)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Repo.Root, logConsole: stderr) { Input = null };
        app.Variable = name => name == EmulatedCloud.BlockVariable ? Block : Environment.GetEnvironmentVariable(name);
        var code = app.Run(["drill", "--stacks", stacks, "--state-dir", state, .. more]);
        return (code, stdout.ToString() + stderr);
    }

    [Fact]
    public void The_shipped_cloud_topology_fails_over_with_booted_servers_and_every_tenant_matches_production()
    {
        var state = Directory.CreateTempSubdirectory("failover-cloud-drill-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            var (code, text) = Drill(Path.Combine(Repo.Root, "infra", "stacks"), state, "--scale", "0.0001");
            output.WriteLine($"drill: {clock.Elapsed.TotalSeconds:F0} s\n{text}");
            Assert.True(code == ExitCodes.Ok, text);
            // Production's servers booted from their user data, the standby's restored every tenant through cloud-init.
            Assert.Contains("prod-fsn1-db-1           cloud-init finished", text);
            // Production's backups are its own agent's, on the timer its user data installed (the drill ran no backup here).
            Assert.Matches(@"heartbeat of agent run \S+: 10 of 10 tenants into vault-aws-par", text);
            Assert.Contains("pulumi up standby-hel1 (mode mvd, 10 snapshot ids)", text);
            Assert.Contains("app.example.com. A 198.18.15.", text);
            Assert.Contains("moved to standby-hel1", text);
            Assert.Equal(10, text.Split('\n').Count(l => l.EndsWith("rows on standby-hel1 = production", StringComparison.Ordinal)));
            Assert.Contains("Recovered on standby-hel1: RTO", text);
            // The fence keeps every server of the killed production; its stop could reach none of them, which the run survives.
            Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 kept with their addresses, volumes and data", text);
            Assert.Matches(@"the stop could not reach prod-fsn1-app-1 \([^)]+\), prod-fsn1-app-2 \([^)]+\), prod-fsn1-db-1 \([^)]+\): the firewall holds them isolated", text);
            // After the cutover the driver's signed request brought the standby its agent (its user data has none) and started
            // it; its first run is in the vault.
            Assert.Matches(@"standby-hel1's backup agent installed and started by a signed request to its data server \(\S+; agent sha256 [0-9a-f]{12}; timer active\)", text);
            Assert.Matches(@"new backups from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: run \S+, 10 of 10 tenants into vault-aws-par", text);
            // The report and journal filed by the standby's data server (the driver has only the read key), read back with matching hashes.
            Assert.Matches(@"Evidence filed by standby-hel1's data server \(\S+\) and read back with the read key: vault-aws-par: restic snapshot [0-9a-f]{8} \(tags failover-report, report=\S+\), \d+ files, SHA-256 match", text);
            Assert.Contains("Cloud drill passed", text);
            AssertNothingLeft(state);
        }
        finally { Directory.Delete(state, recursive: true); }
    }

    [Fact]
    public void A_bootstrap_that_fails_half_way_stops_the_drill_naming_the_server_and_the_line_and_everything_is_removed()
    {
        var state = Directory.CreateTempSubdirectory("failover-cloud-drill-").FullName;
        try
        {
            // Production names an application unit its servers do not have: every bootstrap fails after its packages are in.
            var stacks = Directory.CreateDirectory(Path.Combine(state, "stacks")).FullName;
            foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(stacks, Path.GetFileName(f)));
            var prod = Path.Combine(stacks, "Pulumi.prod-fsn1.yaml");
            File.WriteAllText(prod, File.ReadAllText(prod).Replace("  failover:mode: full\n", "  failover:mode: full\n  failover:service: { unit: acme-missing.service }\n"));

            var (code, text) = Drill(stacks, Path.Combine(state, "run"), "--scale", "0.0001");
            output.WriteLine(text);
            Assert.Equal(ExitCodes.Failed, code);
            Assert.Matches(@"error: server prod-fsn1-(app|db)-\d did not come up: failover: FAILED at line \d+", text);
            Assert.Contains("acme-missing.service", text);
            Assert.DoesNotContain("[4/8]", text);
            Assert.Contains("Cleaned up.", text);
            AssertNothingLeft(Path.Combine(state, "run"));
        }
        finally { Directory.Delete(state, recursive: true); }
    }

    /// <summary>A verb of the CLI run against the booted world, as an operator runs it with the world's `pulumi` and DNS key.</summary>
    private static (int Code, string Output) Verb(CloudWorld world, string runs, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Path.Combine(world.Home, "project"), logConsole: stderr)
        {
            Input = null, Variable = world.Variable, PulumiEnvironment = world.PulumiEnvironment,
        };
        var code = app.Run([.. args, "--stacks", world.Stacks, "--state-dir", runs]);
        return (code, stdout.ToString() + stderr);
    }

    [Fact]
    public async Task A_cloud_standby_is_rehearsed_then_production_migrates_to_it_on_booted_servers_and_no_row_is_lost()
    {
        var state = Directory.CreateTempSubdirectory("failover-cloud-world-").FullName;
        var said = new StringWriter();
        var clock = Stopwatch.StartNew();
        CloudWorld? world = null;
        try
        {
            var shipped = Core.Topology.TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
            await CloudWorld.EnsurePrerequisitesAsync(Serilog.Log.Logger, said.WriteLine, CancellationToken.None);
            world = await CloudWorld.StartAsync(shipped, Path.Combine(state, "world"), new Logging.SecretRegistry(),
                name => name == EmulatedCloud.BlockVariable ? Block : Environment.GetEnvironmentVariable(name),
                TimeProvider.System, 0.0001, Serilog.Log.Logger, said.WriteLine, "5", CancellationToken.None);
            var runs = Path.Combine(state, "runs");
            var prodServers = world.ServersOf("prod-fsn1");
            var prodAddress = (await world.DnsAnswerAsync(CancellationToken.None)).Single();
            output.WriteLine($"world up after {clock.Elapsed.TotalSeconds:F0} s\n{said}");

            // The rehearsal: a copy of the standby booted from its own user data, every tenant restored and verified, then destroyed.
            var rehearsal = Verb(world, runs, "rehearse", "--site", "standby-hel1", "--yes");
            output.WriteLine($"rehearsal done after {clock.Elapsed.TotalSeconds:F0} s\n{rehearsal.Output}");
            Assert.True(rehearsal.Code == ExitCodes.Ok, rehearsal.Output);
            Assert.Contains("pulumi up standby-hel1-rehearsal (mode mvd, 10 snapshot ids)", rehearsal.Output);
            Assert.Contains("Rehearsal passed: RTO", rehearsal.Output);
            Assert.Empty(world.ServersOf("standby-hel1-rehearsal"));
            Assert.Equal([prodAddress], await world.DnsAnswerAsync(CancellationToken.None));
            Assert.Equal(prodServers, world.ServersOf("prod-fsn1"));

            // The migration: the standby at full size restored while production serves, production frozen by its hooks, the
            // final backup by production's own agent, restored, DNS moved, production fenced and kept until --confirm.
            var migration = Verb(world, runs, "migrate", "--to", "standby-hel1", "--yes", "--wait");
            output.WriteLine($"migration done after {clock.Elapsed.TotalSeconds:F0} s\n{migration.Output}");
            Assert.True(migration.Code == ExitCodes.AwaitingConfirmation, migration.Output);
            Assert.Contains("ok: prod-fsn1 frozen at", migration.Output);
            Assert.Contains("final backup of 10 tenants taken during the freeze, restored on standby-hel1 and verified", migration.Output);
            Assert.Matches(@"replace +hcloud:index/server:Server standby-hel1-db-1", migration.Output);
            Assert.Contains("RPO 0s", migration.Output);
            // The fence reached the live production: the application stopped on every server, and on its data server the agent.
            Assert.Contains("the application stopped by a signed request on prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 and marked fenced", migration.Output);
            Assert.DoesNotContain("the stop could not reach", migration.Output);
            Assert.Equal("standby-hel1", world.Topology.Production.Name);
            said.GetStringBuilder().Clear();
            Assert.True(await world.VerifyAsync(world.Topology.Find("standby-hel1")!, CancellationToken.None), said.ToString());
            Assert.Equal(10, said.ToString().Split('\n').Count(l => l.EndsWith("rows on standby-hel1 = production", StringComparison.Ordinal)));
            Assert.Equal(prodServers, world.ServersOf("prod-fsn1"));

            var confirmed = Verb(world, runs, "migrate", "--to", "standby-hel1", "--confirm");
            output.WriteLine($"confirmed after {clock.Elapsed.TotalSeconds:F0} s\n{confirmed.Output}");
            Assert.True(confirmed.Code == ExitCodes.Ok, confirmed.Output);
            Assert.Empty(world.ServersOf("prod-fsn1"));
        }
        finally
        {
            // A world whose start failed half way is removed from what it left in its folder, as `drill --clean` does.
            if (world is not null) await world.DisposeAsync();
            else await CloudWorld.RemoveAsync(Path.Combine(state, "world"), Serilog.Log.Logger);
            output.WriteLine($"world removed after {clock.Elapsed.TotalSeconds:F0} s");
            AssertNothingLeft(state);
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>No container, mount, loop device, namespace or link of the drill is left, and its folder is gone.</summary>
    private static void AssertNothingLeft(string state)
    {
        Assert.False(Directory.Exists(Path.Combine(state, "cloud-drill")) || Directory.Exists(Path.Combine(state, "world")), "the drill's folder is still there");
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mounts"), l => l.Contains(state));
        Assert.DoesNotContain(Directory.GetFiles("/run/netns").Select(Path.GetFileName), n => n!.StartsWith("failover-15-", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName), n => n!.StartsWith("fo15-", StringComparison.Ordinal));
        var losetup = Process.Start(new ProcessStartInfo("losetup", "-a") { RedirectStandardOutput = true })!;
        Assert.DoesNotContain(state, losetup.StandardOutput.ReadToEnd());
        losetup.WaitForExit();
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc"), d => ReadCommandLine(d).Contains("systemd-nspawn") && ReadCommandLine(d).Contains(state));
    }

    private static string ReadCommandLine(string procDir)
    {
        try { return File.ReadAllText(Path.Combine(procDir, "cmdline")).Replace('\0', ' '); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }
}
