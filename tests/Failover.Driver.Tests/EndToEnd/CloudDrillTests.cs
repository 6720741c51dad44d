using System.Diagnostics;
using Failover.Driver.Cli;
using Failover.Driver.Emulation;
using Failover.Driver.Tests.Support;
using Xunit.Abstractions;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// The cloud path whole, on this machine (as root): `failover drill --stacks infra/stacks` with the emulated `pulumi`
/// booting every server of production and the standby from the user data Core renders, the standby's cloud-init
/// restoring every tenant, DNS moving on PowerDNS. Only the providers' APIs are emulated. The world's servers use the
/// links of 198.18.15.0/24 (RFC 2544's test range), its PowerDNS 127.0.14.53: nobody else's.
/// </summary>
[Collection(nameof(CloudDrillTests))]
public sealed class CloudDrillTests(ITestOutputHelper output)
{
    private const string Block = "198.18.15.0";

    /// <summary>
    /// A bootstrap that fails half way: its servers on the links of 198.18.19.0/24 and its PowerDNS on 127.0.19.53, nobody
    /// else's. In the world's collection, so one after the other: run beside the world (measured), its three boots slowed
    /// production's by as much as they saved, and two booted drills at once on two cores make every wait less certain.
    /// </summary>
    [Collection(nameof(CloudDrillTests))]
    public sealed class FailingBootstrap(ITestOutputHelper output)
    {
        private const string Block = "198.18.19.0", DnsAddress = "127.0.19.53";

        private static (int Code, string Output) Drill(string stacks, string state, params string[] more)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var app = new App(stdout, stderr, Repo.Root, logConsole: stderr) { Input = null };
            app.Variable = name => name switch
            {
                EmulatedCloud.BlockVariable => Block,
                CloudWorld.DnsVariable => DnsAddress,
                _ => Environment.GetEnvironmentVariable(name),
            };
            var code = app.Run(["drill", "--stacks", stacks, "--state-dir", state, .. more]);
            return (code, stdout.ToString() + stderr);
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
                Assert.Contains($"on {DnsAddress}:{CloudWorld.DnsPort}", text);
                Assert.Matches(@"error: server prod-fsn1-(app|db)-\d did not come up: failover: FAILED at line \d+", text);
                Assert.Contains("acme-missing.service", text);
                Assert.DoesNotContain("[4/8]", text);
                Assert.Contains("Cleaned up.", text);
                AssertNothingLeft(Path.Combine(state, "run"), Block);
            }
            finally { Directory.Delete(state, recursive: true); }
        }
    }

    /// <summary>The driver's command line inside the booted world, as an operator runs it with the world's `pulumi` and DNS key.</summary>
    private static App InWorld(CloudWorld world, StringWriter stdout, StringWriter stderr) =>
        new(stdout, stderr, Path.Combine(world.Home, "project"), logConsole: stderr)
        {
            Input = null, Variable = world.Variable, PulumiEnvironment = world.PulumiEnvironment, Options = CloudWorld.Options,
        };

    /// <summary>A verb of the CLI run against the booted world.</summary>
    private static (int Code, string Output) Verb(CloudWorld world, string runs, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = InWorld(world, stdout, stderr).Run([.. args, "--stacks", world.Stacks, "--state-dir", runs]);
        return (code, stdout.ToString() + stderr);
    }

    /// <summary>
    /// One booted world (the servers cost most of the test run's minutes, so every cloud verb shares it): production boots
    /// from Core's user data and its agent's timer backs it up; the AWS standby is rehearsed (its copy booted from the
    /// gzip'ed user data EC2 would get, restored, verified, destroyed); production is lost and the drill's failover moves
    /// it to standby-hel1, whose agent's first backup lands; then a planned migration moves it on to the AWS standby at
    /// full size and `--confirm` scales standby-hel1 down. Every tenant's rows are checked after each move.
    /// </summary>
    [Fact]
    public async Task The_shipped_cloud_topology_is_rehearsed_on_aws_fails_over_then_migrates_to_aws_on_booted_servers_and_no_row_is_lost()
    {
        var said = new StringWriter();
        var clock = Stopwatch.StartNew();
        string Took() => $"{clock.Elapsed.TotalSeconds:F0} s";
        await InBootedWorldAsync(Block, null, said, async (world, runs) =>
        {
            var prodServers = world.ServersOf("prod-fsn1");
            var prodAddress = (await world.DnsAnswerAsync(CancellationToken.None)).Single();
            var started = said.ToString();
            output.WriteLine($"world up after {Took()}\n{started}");
            // Production's servers booted from their user data; its backups are its own agent's, on the timer its user data installed.
            Assert.Contains("prod-fsn1-db-1           cloud-init finished", started);
            Assert.Matches(@"heartbeat of agent run \S+: 10 of 10 tenants into vault-aws-par", started);

            // The rehearsal of the AWS standby: a copy booted from its own gzip'ed user data, every tenant restored and verified, then destroyed.
            var rehearsal = Verb(world, runs, "rehearse", "--site", "standby-aws-fra", "--yes");
            output.WriteLine($"rehearsal done after {Took()}\n{rehearsal.Output}");
            Assert.True(rehearsal.Code == ExitCodes.Ok, rehearsal.Output);
            Assert.Contains("pulumi up standby-aws-fra-rehearsal (mode mvd, 10 snapshot ids)", rehearsal.Output);
            Assert.Matches(@"create +aws:ec2/instance:Instance standby-aws-fra-rehearsal-db-1", rehearsal.Output);
            Assert.Contains("Rehearsal passed: RTO", rehearsal.Output);
            Assert.Empty(world.ServersOf("standby-aws-fra-rehearsal"));
            Assert.Equal([prodAddress], await world.DnsAnswerAsync(CancellationToken.None));
            Assert.Equal(prodServers, world.ServersOf("prod-fsn1"));

            // The drill's failover: production lost, `failover run` to standby-hel1, DNS moved, rows checked, the new site's first backup.
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            said.GetStringBuilder().Clear();
            var failover = await CloudDrill.FailOverAsync(InWorld(world, stdout, stderr), world, world.Topology.Find("standby-hel1")!,
                new Failover.Driver.Engine.RunStore(runs), Serilog.Log.Logger, CancellationToken.None);
            // The world's own lines (the lost site, the DNS answer, the rows) are said where it was started.
            var text = stdout.ToString() + stderr + said;
            output.WriteLine($"failover done after {Took()}\n{text}");
            Assert.True(failover == ExitCodes.Ok, text);
            Assert.Contains("pulumi up standby-hel1 (mode mvd, 10 snapshot ids)", text);
            Assert.Contains("app.example.com. A 198.18.15.", text);
            Assert.Contains("moved to standby-hel1", text);
            Assert.Equal(10, text.Split('\n').Count(l => l.EndsWith("rows on standby-hel1 = production", StringComparison.Ordinal)));
            Assert.Contains("Recovered on standby-hel1: RTO", text);
            // The fence keeps every server of the lost production; its stop could reach none of them, which the run survives.
            Assert.Contains("prod-fsn1-app-1, prod-fsn1-app-2, prod-fsn1-db-1 kept with their addresses, volumes and data", text);
            Assert.Matches(@"the stop could not reach prod-fsn1-app-1 \([^)]+\), prod-fsn1-app-2 \([^)]+\), prod-fsn1-db-1 \([^)]+\): the firewall holds them isolated", text);
            // After the cutover the driver's signed request brought the standby its agent (its user data has none) and started
            // it; its first run is in the vault.
            Assert.Matches(@"standby-hel1's backup agent installed and started by a signed request to its data server \(\S+; agent sha256 [0-9a-f]{12}; timer active\)", text);
            Assert.Matches(@"new backups from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: run \S+, 10 of 10 tenants into vault-aws-par", text);
            // The report and journal filed by the standby's data server (the driver has only the read key), read back with matching hashes.
            Assert.Matches(@"Evidence filed by standby-hel1's data server \(\S+\) and read back with the read key: vault-aws-par: restic snapshot [0-9a-f]{8} \(tags failover-report, report=\S+\), \d+ files, SHA-256 match", text);
            var hel1Servers = world.ServersOf("standby-hel1");

            // The migration on to AWS: the target at full size restored while standby-hel1 serves, standby-hel1 frozen by its
            // hooks, the final backup by its own agent, restored (the data server replaced), DNS moved, standby-hel1 fenced.
            var migration = Verb(world, runs, "migrate", "--to", "standby-aws-fra", "--yes", "--wait");
            output.WriteLine($"migration done after {Took()}\n{migration.Output}");
            Assert.True(migration.Code == ExitCodes.AwaitingConfirmation, migration.Output);
            Assert.Contains("ok: standby-hel1 frozen at", migration.Output);
            // The fence reached the live standby-hel1: the application stopped on every server it ran, the data server's agent too.
            Assert.Matches(@"the application stopped by a signed request on standby-hel1-\S+.*standby-hel1-db-1 and marked fenced", migration.Output);
            Assert.DoesNotContain("the stop could not reach", migration.Output);
            Assert.Contains("final backup of 10 tenants taken during the freeze, restored on standby-aws-fra and verified", migration.Output);
            Assert.Matches(@"replace +aws:ec2/instance:Instance standby-aws-fra-db-1", migration.Output);
            Assert.Contains("RPO 0s", migration.Output);
            Assert.Matches(@"standby-aws-fra's backup agent installed and started by a signed request to its data server \(\S+; agent sha256 [0-9a-f]{12}; timer active\)", migration.Output);
            Assert.Equal("standby-aws-fra", world.Topology.Production.Name);
            said.GetStringBuilder().Clear();
            Assert.True(await world.VerifyAsync(world.Topology.Find("standby-aws-fra")!, CancellationToken.None), said.ToString());
            Assert.Equal(10, said.ToString().Split('\n').Count(l => l.EndsWith("rows on standby-aws-fra = production", StringComparison.Ordinal)));
            Assert.Contains("standby-hel1-db-1", world.ServersOf("standby-hel1"));
            await AssertBootedFromGzipAsync(world, "standby-aws-fra-db-1", "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol");

            var confirmed = Verb(world, runs, "migrate", "--to", "standby-aws-fra", "--confirm");
            output.WriteLine($"confirmed after {Took()}\n{confirmed.Output}");
            Assert.True(confirmed.Code == ExitCodes.Ok, confirmed.Output);
            Assert.Empty(world.ServersOf("standby-hel1"));
            Assert.NotEmpty(hel1Servers);
        });
    }

    /// <summary>
    /// A tenant without a usable backup does not hold the others back in the cloud either: `failover run --without-tenant`
    /// writes it left-out into the standby's restore point, `pulumi up` (infra/'s stack check, emulated) takes it, the booted
    /// data server restores and verifies the nine others and never that one, and the report names it. Its own world on the
    /// links of 198.18.21.0/24 and PowerDNS on 127.0.21.53 (in the world's collection, so after it).
    /// </summary>
    [Fact]
    public async Task A_cloud_failover_without_a_tenant_restores_the_others_on_booted_servers_and_names_the_one_left_out()
    {
        var said = new StringWriter();
        await InBootedWorldAsync("198.18.21.0", "127.0.21.53", said, async (world, runs) =>
        {
            await world.LoseAsync("prod-fsn1", CancellationToken.None);

            var run = Verb(world, runs, "run", "--to", "standby-hel1", "--without-tenant", "margie", "--reason", "its backups are damaged", "--yes");
            output.WriteLine(run.Output);
            Assert.True(run.Code == ExitCodes.Ok, run.Output);
            Assert.Contains("pulumi up standby-hel1 (mode mvd, 9 snapshot ids; left out: margie)", run.Output);
            Assert.Contains("restore        ok: 9 tenants restored and verified; left out: margie", run.Output);
            Assert.Contains("9 of 9 tenants into vault-aws-par", run.Output); // the new site's agent backs up what it serves
            Assert.Contains("Recovered on standby-hel1: RTO", run.Output);
            var report = Directory.GetFiles(runs, "report.md", SearchOption.AllDirectories).Single();
            Assert.Contains("Failed over without margie (--without-tenant", File.ReadAllText(report));
            said.GetStringBuilder().Clear();
            Assert.True(await world.RowsMatchAsync(world.Topology.Find("standby-hel1")!, CancellationToken.None, ["margie"]), said.ToString());
            Assert.Equal(9, said.ToString().Split('\n').Count(l => l.EndsWith("rows on standby-hel1 = production", StringComparison.Ordinal)));
            // What infra/ renders the restore from, and what the booted data server reports it restored.
            var config = Core.Sites.RestorePointConfig.Parse("standby-hel1", (await world.Pulumi.GetConfigAsync("standby-hel1", Core.Sites.RestorePointConfig.Key, cancellation: CancellationToken.None))?.Value);
            Assert.Equal("left-out", config["margie"]);
            Assert.Equal(9, config.Values.Count(v => v != "left-out"));
        });
    }

    /// <summary>
    /// Starts a booted world of the shipped topology on the links of <paramref name="block"/> (and its PowerDNS on
    /// <paramref name="dnsAddress"/>, else the default), runs <paramref name="body"/> in it with its runs folder, then removes
    /// it and checks nothing is left, after a failure too, where what the removal finds must not replace the failure itself.
    /// </summary>
    private async Task InBootedWorldAsync(string block, string? dnsAddress, StringWriter said, Func<CloudWorld, string, Task> body)
    {
        var state = Directory.CreateTempSubdirectory($"failover-cloud-world-{block.Split('.')[2]}-").FullName;
        var clock = Stopwatch.StartNew();
        CloudWorld? world = null;
        Exception? failure = null;
        try
        {
            var shipped = Core.Topology.TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
            await CloudWorld.EnsurePrerequisitesAsync(Environment.GetEnvironmentVariable, Serilog.Log.Logger, said.WriteLine, CancellationToken.None);
            world = await CloudWorld.StartAsync(shipped, Path.Combine(state, "world"), new Logging.SecretRegistry(),
                name => name switch
                {
                    EmulatedCloud.BlockVariable => block,
                    CloudWorld.DnsVariable when dnsAddress is not null => dnsAddress,
                    _ => Environment.GetEnvironmentVariable(name),
                },
                TimeProvider.System, 0.0001, Serilog.Log.Logger, said.WriteLine, "8", CancellationToken.None);
            await body(world, Path.Combine(state, "runs"));
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            try
            {
                // A world whose start failed half way is removed from what it left in its folder, as `drill --clean` does.
                if (world is not null) await world.DisposeAsync();
                else await CloudWorld.RemoveAsync(Path.Combine(state, "world"), Serilog.Log.Logger);
                output.WriteLine($"world removed after {clock.Elapsed.TotalSeconds:F0} s");
                AssertNothingLeft(state, block);
                Directory.Delete(state, recursive: true);
            }
            catch (Exception left) when (failure is not null)
            {
                output.WriteLine($"after the failure above, the removal also failed: {left.Message}");
            }
        }
    }

    /// <summary>
    /// The server's NoCloud seed holds the gzip'ed bytes the emulated provider was sent (their hash is the one the emulator
    /// recorded at `pulumi up`), cloud-init unpacked them (it finished that document's bootstrap), and the data volume is
    /// mounted where that user data expects it, from the provider's device link.
    /// </summary>
    private static async Task AssertBootedFromGzipAsync(CloudWorld world, string name, string deviceLink)
    {
        var cloud = EmulatedCloud.Read(world.Emulation).Servers[name];
        var server = EmulatedServer.Attach(cloud.Record, Serilog.Log.Logger);
        var seeded = await File.ReadAllBytesAsync(Path.Combine(server.Root, EmulatedServer.SeedDirectory, "user-data"));
        Assert.Equal(new byte[] { 0x1f, 0x8b }, seeded[..2]);
        Assert.Equal(cloud.UserDataHash, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(seeded)));
        var document = Core.Sites.ServerUserData.Decode(Convert.ToBase64String(seeded));
        Assert.StartsWith("#cloud-config", document);
        Assert.Contains(deviceLink, document);
        Assert.True(await server.FinishedAsync(CancellationToken.None));
        var mounted = await server.ExecAsync(["findmnt", "-no", "SOURCE,TARGET", Core.Sites.DataVolume.DefaultMountPoint], CancellationToken.None);
        Assert.Matches(@"^/dev/\S+ +" + System.Text.RegularExpressions.Regex.Escape(Core.Sites.DataVolume.DefaultMountPoint), mounted.Output.Trim());
        var links = await server.ExecAsync(["sh", "-c", $"readlink -f {deviceLink}*"], CancellationToken.None);
        Assert.Equal(mounted.Output.Trim().Split(' ')[0], links.Output.Trim());
    }

    /// <summary>No container, mount, loop device, namespace or link (of the links' <paramref name="block"/>) of the drill is left, and its folder is gone.</summary>
    private static void AssertNothingLeft(string state, string block)
    {
        var octet = block.Split('.')[2];
        Assert.False(Directory.Exists(Path.Combine(state, "cloud-drill")) || Directory.Exists(Path.Combine(state, "world")), "the drill's folder is still there");
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mounts"), l => l.Contains(state));
        Assert.DoesNotContain(Directory.GetFiles("/run/netns").Select(Path.GetFileName), n => n!.StartsWith($"failover-{octet}-", StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName), n => n!.StartsWith($"fo{octet}-", StringComparison.Ordinal));
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
