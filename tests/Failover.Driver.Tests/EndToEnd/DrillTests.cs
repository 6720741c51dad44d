using System.Diagnostics;
using Failover.Driver.Cli;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>The README's main command, as a new user runs it: the drill on the examples/local topology.</summary>
public class DrillTests
{
    [Fact]
    public void The_drill_fails_over_verifies_every_tenant_reports_and_leaves_nothing_behind()
    {
        var project = Directory.CreateTempSubdirectory("failover-drill-").FullName;
        try
        {
            File.SetUnixFileMode(project, (UnixFileMode)Convert.ToInt32("755", 8));
            foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "examples", "local"), "Pulumi*.yaml"))
                File.Copy(f, Path.Combine(project, Path.GetFileName(f)));
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var code = new App(stdout, stderr, project, logConsole: stderr) { Input = null }.Run(["drill", "--stacks", project, "--scale", "0.01"]);
            var output = stdout.ToString() + stderr;
            Assert.True(code == 0, output);

            Assert.Contains("app.drill.test. A 127.0.0.12: moved to the standby", output);
            foreach (var tenant in new[] { "northwind", "contoso", "tailspin", "wingtip", "litware" })
                Assert.Matches($@"{tenant}\s+\d+ rows = production", output);
            Assert.Matches(@"Recovered on local-standby: RTO \d+", output);
            Assert.Contains("Drill passed", output);

            var report = Directory.GetFiles(Path.Combine(project, ".failover", "runs"), "report.md", SearchOption.AllDirectories).Single();
            var text = File.ReadAllText(report);
            Assert.Contains("**Resolved.**", text);
            Assert.Contains("| RTO (start to verified cutover) |", text);
            Assert.Contains("| northwind | `", text);
            Assert.Matches(@"post hook `psql[^`]*` exited 0: customers ready: \d+", text); // the tenant's hook ran after its data was verified

            // The drill's sites are gone, so nothing claims the standby serves: status and migrate start from production again.
            var topology = Failover.Core.Topology.TopologyLoader.Load(project);
            Assert.Equal("local-prod", Failover.Driver.Runbooks.ServingSite.Of(topology, new Failover.Driver.Engine.RunStore(Path.Combine(project, ".failover"))).Site.Name);

            // Nothing left: no PostgreSQL or PowerDNS of the drill, no sites, vault or DNS folders.
            Assert.False(Directory.Exists(Path.Combine(project, ".failover", "sites")));
            Assert.False(Directory.Exists(Path.Combine(project, ".failover", "dns")));
            Assert.False(Directory.Exists(Path.Combine(project, ".failover", "local", "vault")));
            var leftovers = Process.GetProcesses().Where(p =>
            {
                try { return (p.ProcessName is "postgres" or "pdns_server") && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(project); }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException) { return false; }
            }).ToList();
            Assert.Empty(leftovers);
        }
        finally { Directory.Delete(project, true); }
    }
}
