using System.Net;
using System.Net.Sockets;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Tests.Sites;

/// <summary>The cloud-init documents as the providers and the servers read them: size, structure, volume, health.</summary>
public class CloudInitTests(ITestOutputHelper output)
{
    private static readonly ResticCredentials Credentials = new(
        "s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic", "Zq9PasswordThatMustNeverAppearInTheScript01234567",
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

    private static readonly string[] Words =
    [
        "acme", "blue", "harbor", "north", "river", "summit", "cedar", "delta", "ember", "falcon", "granite", "horizon", "iris", "juniper",
        "kestrel", "lumen", "maple", "nova", "orchid", "pine", "quartz", "raven", "sierra", "tide", "umber", "vista", "willow", "zephyr",
        "alpine", "bright", "coral", "dune", "echo", "fern", "glacier", "hollow", "indigo", "jade", "koala", "lotus", "meadow", "nimbus",
        "oak", "pebble", "quill", "ridge", "sage", "thistle", "union", "vale", "wren", "yarrow", "atlas", "beacon", "cobalt", "drift",
        "field", "grove", "haven", "isle", "lake", "mesa", "onyx", "prairie", "reef", "stone", "timber", "valley", "works", "labs",
    ];

    /// <summary>
    /// A topology of <paramref name="count"/> tenants (names like company slugs: two words and sometimes a number),
    /// every fifth with a pre and a post hook, failed over to <paramref name="standby"/> with 64-hex snapshot ids.
    /// </summary>
    internal static Topology.Topology FailedOverWith(int count, string standby)
    {
        var random = new Random(11);
        var names = new HashSet<string>();
        while (names.Count < count)
            names.Add($"{Words[random.Next(Words.Length)]}-{Words[random.Next(Words.Length)]}{(random.Next(3) == 0 ? "-" + random.Next(100) : "")}");
        var dir = Examples.Copy(Examples.CloudStacks);
        var prod = Path.Combine(dir, "Pulumi.prod-fsn1.yaml");
        var lines = File.ReadAllLines(prod).ToList();
        var start = lines.IndexOf("  failover:tenants:");
        var end = start + 1;
        while (lines[end].StartsWith("    ", StringComparison.Ordinal)) end++;
        lines.RemoveRange(start + 1, end - start - 1);
        lines.InsertRange(start + 1, names.Select((n, i) => i % 5 == 0
            ? $"    - {{ name: {n}, tier: {1 + i % 3}, dataGb: 0.05, hooks: {{ pre: ['systemctl stop \"worker@$FAILOVER_TENANT\"'], post: ['/usr/local/bin/warm-cache --tenant \"$FAILOVER_TENANT\"{(i % 50 == 0 ? " --full" : "")}'] }} }}"
            : $"    - {{ name: {n}, tier: {1 + i % 3}, dataGb: 0.05 }}"));
        File.WriteAllLines(prod, lines);
        var file = Path.Combine(dir, $"Pulumi.{standby}.yaml");
        var standbyLines = File.ReadAllLines(file).Where(l => !l.StartsWith("  failover:mode:", StringComparison.Ordinal));
        File.WriteAllText(file, string.Join("\n", standbyLines) + "\n  failover:mode: mvd\n  failover:snapshots:\n" +
            string.Join("", names.Select(n => $"    {n}: {SiteUserData.PlaceholderId("snapshot of " + n)}\n")));
        return TopologyLoader.Load(dir);
    }

    private static IReadOnlyList<ServerUserData> UserDataOf(Topology.Topology t, string standby)
    {
        var plan = SitePlan.For(t.Find(standby)!);
        return SiteUserData.For(plan, RestoreRecipe.For(t, plan.Stack, plan.DataServer!.Capacity.Vcpus), Credentials);
    }

    [Theory]
    [InlineData("standby-hel1", 10)]
    [InlineData("standby-aws-fra", 10)]
    [InlineData("standby-hel1", 1000)]
    [InlineData("standby-aws-fra", 1000)]
    public void The_data_server_s_user_data_stays_within_the_provider_s_limit(string standby, int tenants)
    {
        var t = FailedOverWith(tenants, standby);
        var all = UserDataOf(t, standby); // throws UserDataTooLargeException over the limit
        foreach (var server in all)
        {
            output.WriteLine($"{standby} {tenants} tenants: {server.Server} user data {server.Bytes} bytes ({server.Figure}, {server.Limit.Counted})");
            Assert.True(server.Fits);
            // What the provider stores is what cloud-init unpacks: the whole cloud-config, every tenant in it.
            var document = ServerUserData.Decode(server.Base64Gzip);
            Assert.StartsWith("#cloud-config\n", document);
        }
        var data = all.Single(s => s.Server.EndsWith("-db-1", StringComparison.Ordinal));
        // The records get deflate blocks of their own: about 1 KB less at a thousand tenants, the AWS restore keeps 1 KB of its 16.
        var text = ServerUserData.Decode(data.Base64Gzip);
        var (blocks, oneBlock) = (ServerUserData.Gzip(text).Length, UserDataTests.GzipInOneBlock(text).Length);
        output.WriteLine($"gzip {blocks} bytes; in one run of blocks: {oneBlock}");
        if (tenants == 1000) Assert.True(blocks < oneBlock - 700, $"{blocks} vs {oneBlock}");
        if (tenants == 1000 && standby == "standby-aws-fra") Assert.True(data.Bytes <= data.Limit.Bytes - 1000, $"{data.Bytes} bytes leave less than 1,000 of {data.Limit.Bytes}");
        var script = Script(ServerUserData.Decode(data.Base64Gzip));
        var records = UserDataTests.Bash(script[script.IndexOf("\nrestore_point ", StringComparison.Ordinal)..script.IndexOf("\nlog \"restoring", StringComparison.Ordinal)] +
            "\necho \"${#ids[@]} ${#pres[@]} ${ids[0]} ${pres[0]}:${posts[0]} ${checks[1]}\"");
        var first = RestoreRecipe.For(t, t.Find(standby)!, 4)!.Tenants;
        Assert.Equal($"{tenants} {tenants} {first[0].SnapshotKey} {(first[0].PreHooks.Count > 0 ? "0:1" : "-:-")} {first[1].NameCheck}", records.Output.Trim());
        Assert.Equal(0, UserDataTests.Run("bash", "-n", script).Code);
    }

    [Fact]
    public void User_data_over_the_limit_is_an_error_naming_the_server_the_size_and_the_limit()
    {
        var big = "#cloud-config\n# " + SiteUserData.PlaceholderId("x") + string.Concat(Enumerable.Range(0, 1000).Select(i => SiteUserData.PlaceholderId(i.ToString())));
        var e = Assert.Throws<UserDataTooLargeException>(() => ServerUserData.Encode("standby-aws-fra-db-1", big, Provider.Aws));
        Assert.Contains("standby-aws-fra-db-1: user data is", e.Message);
        Assert.Contains("over the Aws limit of 16,384", e.Message);
        Assert.False(ServerUserData.Measure("x", big, Provider.Hetzner).Fits);
        Assert.True(ServerUserData.Measure("x", big[..40000], Provider.Hetzner).Fits); // 32 KiB of base64 text takes it
    }

    [Fact]
    public void The_plan_reports_each_server_s_user_data_at_the_mode_a_failover_gives_it()
    {
        var t = SiteStacks.Load();
        var sizes = SiteUserData.Planned(t, t.Find("standby-aws-fra")!); // cold in the stack file: a failover brings it up at mvd
        Assert.Equal(SitePlan.For(t.Find("standby-aws-fra")! with { Mode = SiteMode.Mvd }).Servers.Select(s => s.Name), sizes.Select(s => s.Server));
        Assert.All(sizes, s => Assert.Equal(16384, s.Limit.Bytes));
        var db = sizes.Single(s => s.Server.Contains("-db-"));
        Assert.True(db.Bytes > sizes.Single(s => s.Server.Contains("-app-1")).Bytes); // it carries the restore
        Assert.Matches(@"^\d+\.\d KB of 16 KB$", db.Figure);
    }

    [Fact]
    public void The_plan_fails_a_target_whose_user_data_a_failover_would_take_over_the_limit()
    {
        // A standby's restore point goes by request, so 2,500 tenants fit it; its rehearsal copy has no key and carries them.
        var t = FailedOverWith(2500, "standby-aws-fra");
        Assert.DoesNotContain(Planning.Planner.Plan(t, t.Find("standby-aws-fra")!).Findings, f => f.PolicyId == "user-data-limit");
        var runbook = Planning.Planner.Plan(t, t.Find("standby-aws-fra")! with { Role = Role.Rehearsal, Name = "standby-aws-fra-rehearsal" });
        var finding = Assert.Single(runbook.Findings, f => f.PolicyId == "user-data-limit");
        Assert.Equal(Policies.Severity.Error, finding.Severity);
        Assert.StartsWith("standby-aws-fra-rehearsal-db-1: its user data would be", finding.Message);
        Assert.Contains(runbook.UserData, u => !u.Fits);
        Assert.True(runbook.HasErrors);
    }

    private static string Script(string cloudConfig) => FileContent(cloudConfig, ServerBootstrap.ScriptPath);

    private static string FileContent(string cloudConfig, string path)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(cloudConfig));
        var files = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["write_files"];
        return ((YamlScalarNode)files.Cast<YamlMappingNode>().Single(f => ((YamlScalarNode)f["path"]).Value == path)["content"]).Value!;
    }

    public static TheoryData<string> Hostile => new()
    {
        "evil\nruncmd: [[rm, -rf, /]]",
        "cr\rruncmd: [[reboot]]",
        "ls\u2028runcmd: [[reboot]]",
        "nel\u0085bootcmd: [[reboot]]",
        "ps\u2029x",
        "quote'\"; reboot; echo '",
        "$(reboot)",
        "`reboot`",
        "tab\there",
        "ünïcødé-名前",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_names_and_values_do_not_change_the_structure_of_the_script_or_the_cloud_config(string hostile)
    {
        var t = SiteStacks.FailedOverToHel1WithHooks("true", "false");
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        var given = RestoreRecipe.For(t, plan.Stack, 4)!;
        var recipe = given with
        {
            Hooks = ["echo " + hostile, hostile],
            Tenants = [given.Tenants[0] with { Tenant = given.Tenants[0].Tenant with { Name = "t" + hostile } }, .. given.Tenants.Skip(1)],
        };
        var keys = SiteStacks.Load().Find("standby-hel1")!.Access.SshPublicKeys.Append("ssh-ed25519 AAAA " + hostile).ToList();
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe) with
        {
            Stack = hostile, Server = "db " + hostile, SshPublicKeys = keys,
            Service = plan.Stack.Service with { Unit = hostile + ".service" },
        };
        var cloudConfig = CloudConfig.Render(boot, Credentials with { Password = "pw" + hostile });

        var yaml = new YamlStream();
        yaml.Load(new StringReader(cloudConfig));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        Assert.Single(yaml.Documents);
        Assert.Equal(["bootcmd", "ssh_authorized_keys", "write_files", "runcmd"], root.Children.Keys.Select(k => ((YamlScalarNode)k).Value));
        Assert.Equal([$"/etc/systemd/system/{ServerBootstrap.HealthUnit}", ServerBootstrap.HealthHandlerPath, ServerBootstrap.ScriptPath, recipe.CredentialsFile],
            ((YamlSequenceNode)root["write_files"]).Cast<YamlMappingNode>().Select(f => ((YamlScalarNode)f["path"]).Value));
        Assert.Equal(keys, ((YamlSequenceNode)root["ssh_authorized_keys"]).Cast<YamlScalarNode>().Select(k => k.Value));
        Assert.Equal(2, ((YamlSequenceNode)root["runcmd"]).Children.Count);

        var script = Script(cloudConfig);
        Assert.Equal(BootstrapScript.Render(boot).TrimEnd('\n'), script.TrimEnd('\n'));
        Assert.Equal(0, UserDataTests.Run("bash", "-n", script).Code);
        // The values come back exactly as they went in when bash reads them.
        var echoed = UserDataTests.Run("bash", "", string.Join('\n', script.Split('\n').Where(l => l.StartsWith("STACK=", StringComparison.Ordinal) || l.StartsWith("hook[", StringComparison.Ordinal)))
            + "\nprintf '%s|%s|%s' \"$STACK\" \"$SERVER\" \"${hook[1]}\"\n");
        Assert.Equal($"{hostile}|db {hostile}|{hostile}", echoed.Output);
        var env = FileContent(cloudConfig, recipe.CredentialsFile);
        Assert.Equal("pw" + hostile, UserDataTests.Run("bash", "", env + "printf '%s' \"$RESTIC_PASSWORD\"\n").Output);
    }

    [Fact]
    public void The_data_volume_is_formatted_only_when_empty_mounted_and_never_reformatted()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/sbin/losetup")) { output.WriteLine("needs root and losetup: skipped"); return; }
        var dir = Directory.CreateTempSubdirectory("failover-volume-").FullName;
        var image = Path.Combine(dir, "volume.img");
        using (var f = File.Create(image)) f.SetLength(64 * 1024 * 1024);
        var loop = Command("losetup", "--find", "--show", image);
        Assert.StartsWith("/dev/loop", loop);
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "by-id"));
            File.CreateSymbolicLink(Path.Combine(dir, "by-id", "scsi-0HC_Volume_4711"), loop);
            string Mount() => $"""
                FSTAB="$TMPDIR/fstab"
                mount_data_volume "$TMPDIR/data" 4 "{dir}/by-id/scsi-0HC_Volume_*"
                bind_on_volume "$TMPDIR/data/postgresql" "$TMPDIR/var-lib-postgresql"
                """;
            var first = UserDataTests.Bash(Mount() + "\necho kept > \"$TMPDIR/var-lib-postgresql/PG_VERSION\"\numount \"$TMPDIR/var-lib-postgresql\" \"$TMPDIR/data\"\n" +
                                           "blkid -s LABEL -o value " + loop + "\ncat \"$TMPDIR/fstab\" | cut -d' ' -f2-3 | sed \"s|$TMPDIR|T|g\"");
            Assert.Contains($"formatting the empty data volume {loop}", first.Output);
            Assert.Contains($"{DataVolume.Label}\nT/data ext4\nT/var-lib-postgresql none\n", first.Output);
            // A second boot (or a replaced server) finds the filesystem and keeps what is on it.
            var second = UserDataTests.Bash(Mount() + "\ncat \"$TMPDIR/var-lib-postgresql/PG_VERSION\"\numount \"$TMPDIR/var-lib-postgresql\" \"$TMPDIR/data\"");
            Assert.DoesNotContain("formatting", second.Output);
            Assert.Contains("kept", second.Output);
            // A volume that never appears fails the boot by name instead of filling the root disk.
            var none = UserDataTests.Bash($"FSTAB=\"$TMPDIR/fstab\"\nmount_data_volume \"$TMPDIR/data\" 0 '{dir}/nothing-*'; echo \"exit=$?\"");
            Assert.Contains("no data volume attached within 0s", none.Output);
            Assert.Contains("exit=1", none.Output);
        }
        finally
        {
            Command("losetup", "-d", loop);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(Provider.Hetzner, "/dev/disk/by-id/scsi-0HC_Volume_*")]
    [InlineData(Provider.Aws, "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol*")]
    public void The_data_server_puts_postgresql_the_tenants_and_the_spool_on_its_volume(Provider provider, string link)
    {
        var t = SiteStacks.Load();
        var stack = t.Stacks.First(s => s.Role == Role.Standby && s.Site.Provider == provider) with { Mode = SiteMode.Mvd };
        var plan = SitePlan.For(stack);
        var volume = DataVolume.For(provider, plan.DataServer!)!;
        Assert.Equal(link, volume.DeviceCandidates[0]);
        Assert.Equal(["/var/lib/postgresql", RestoreRecipe.TenantsDirectory], volume.Binds.Select(b => b.Directory));
        Assert.StartsWith(DataVolume.DefaultMountPoint + "/", RestoreRecipe.DefaultSpoolDirectory);
        var script = BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, null));
        // Mounted and bound before PostgreSQL is installed, so its cluster is created on the volume.
        var m = script.IndexOf("\nmount_data_volume /var/lib/failover-data 300 ", StringComparison.Ordinal);
        Assert.True(m > 0);
        Assert.True(m < script.IndexOf("bind_on_volume /var/lib/failover-data/postgresql /var/lib/postgresql", StringComparison.Ordinal));
        Assert.True(script.IndexOf("bind_on_volume", StringComparison.Ordinal) < script.IndexOf("\napt_install postgresql", StringComparison.Ordinal));
    }

    [Fact]
    public void Package_installs_are_retried_with_a_growing_pause_and_given_up_after_a_bound()
    {
        var flaky = UserDataTests.Bash("""
            APT_DELAY=0; n=0
            apt-get() { if [ "$1" = install ]; then n=$((n + 1)); [ "$n" -ge 3 ]; fi; }
            sleep() { echo "pause $1"; }
            apt_install postgresql; echo "exit=$? installs=$n"
            """);
        Assert.Contains("exit=0 installs=3", flaky.Output);
        Assert.Contains("installing postgresql (try 3 of 6)", flaky.Output);
        var down = UserDataTests.Bash("""
            APT_DELAY=10
            apt-get() { return 100; }
            sleep() { echo "pause $1"; }
            apt_install postgresql; echo "exit=$?"
            """);
        Assert.Equal(["pause 10", "pause 20", "pause 30", "pause 40", "pause 50"], down.Output.Split('\n').Where(l => l.StartsWith("pause", StringComparison.Ordinal)));
        Assert.Contains("apt-get install postgresql failed 6 times\nexit=1", down.Output);
    }

    [Fact]
    public void The_metadata_service_is_closed_to_non_root_processes_before_the_bootstrap_runs()
    {
        var (plan, recipe) = (SitePlan.For(SiteStacks.FailedOverToHel1().Find("standby-hel1")!), (RestoreRecipe?)null);
        var cloudConfig = CloudConfig.Render(ServerBootstrap.For(plan, plan.FrontServer!, recipe), null);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(cloudConfig));
        var bootcmd = ((YamlScalarNode)((YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["bootcmd"])[0]).Value!;
        Assert.Contains("nft 'add rule inet failover_metadata output ip daddr 169.254.169.254 meta skuid != 0 reject'", bootcmd);
        Assert.Equal(0, UserDataTests.Run("sh", "-n", bootcmd).Code);
        Assert.Contains("\nblock_metadata\n", Script(cloudConfig));
    }

    [Fact]
    public void The_health_endpoint_answers_200_only_while_ready_and_postgresql_answers()
    {
        var dir = Directory.CreateTempSubdirectory("failover-health-").FullName;
        var handler = Path.Combine(dir, "health.py");
        File.WriteAllText(handler, BootstrapScript.HealthHandler);
        var doc = Path.Combine(dir, "health");
        var flag = Path.Combine(dir, "pg-up");
        var port = FreePort();
        var psi = new System.Diagnostics.ProcessStartInfo("python3") { ArgumentList = { handler, port.ToString(), "/health", doc, "test", "-e", flag } };
        psi.Environment["FAILOVER_HEALTH_BIND"] = Address;
        using var server = System.Diagnostics.Process.Start(psi)!;
        try
        {
            using var http = new HttpClient();
            (int, string) Get()
            {
                for (var i = 0; ; i++)
                {
                    try
                    {
                        using var r = http.GetAsync($"http://{Address}:{port}/health").Result;
                        return ((int)r.StatusCode, r.Content.ReadAsStringAsync().Result.Trim());
                    }
                    catch (AggregateException) when (i < 50) { Thread.Sleep(100); }
                }
            }
            Assert.Equal(404, Get().Item1); // still restoring
            File.WriteAllText(doc, HealthDocument.Render("s", "db-1", new Dictionary<string, string> { ["contoso"] = "1a2b" }));
            File.WriteAllText(flag, "");
            Assert.Equal((200, HealthDocument.Render("s", "db-1", new Dictionary<string, string> { ["contoso"] = "1a2b" })), Get());
            File.Delete(flag); // PostgreSQL stopped
            var (code, body) = Get();
            Assert.Equal(503, code);
            Assert.Contains("\"status\":\"unavailable\"", body);
            File.WriteAllText(flag, "");
            File.WriteAllText(doc, HealthDocument.Render("s", "db-1", new Dictionary<string, string>(), ["northwind"]));
            Assert.Equal(503, Get().Item1); // degraded never answers 200
        }
        finally
        {
            server.Kill();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Command(string tool, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }

    private const string Address = "127.0.1.11";

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Parse(Address), 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
