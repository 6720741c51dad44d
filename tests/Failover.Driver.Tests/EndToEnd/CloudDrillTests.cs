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
            Assert.Contains("moved to the standby", text);
            Assert.Equal(10, text.Split('\n').Count(l => l.EndsWith("rows = production", StringComparison.Ordinal)));
            Assert.Contains("Recovered on standby-hel1: RTO", text);
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

    /// <summary>No container, mount, loop device, namespace or link of the drill is left, and its folder is gone.</summary>
    private static void AssertNothingLeft(string state)
    {
        Assert.False(Directory.Exists(Path.Combine(state, "cloud-drill")), "the drill's folder is still there");
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
