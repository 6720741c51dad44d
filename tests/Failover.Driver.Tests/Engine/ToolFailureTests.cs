using System.Text.RegularExpressions;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Migration;
using Failover.Driver.Pulumi;
using Failover.Driver.Tests.Pulumi;
using Serilog.Core;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// Every external tool's failure reads the same way (<see cref="ToolFailure"/>): which tool, doing what for whom, how it
/// ended, its last meaningful error line with secrets redacted, and what to do. Real tools, failing for real.
/// </summary>
public sealed class ToolFailureTests
{
    /// <summary>TOOL failed DOING (EXIT): LINE. REMEDY, on one line.</summary>
    private static readonly Regex Shape = new(@"^(?<tool>.+?) failed (?<doing>.+?) \((?<exit>exit -?\d+|HTTP \d{3}|stopped at its time limit of .+?)\): (?<line>[^\n]+?)\. (?<remedy>[A-Z][^\n]+)$");

    private static Match Read(string message)
    {
        var m = Shape.Match(message);
        Assert.True(m.Success, $"not in the common shape: {message}");
        return m;
    }

    [Fact]
    public async Task Restic_a_site_command_and_pulumi_failing_read_the_same_shape_and_name_no_secret()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package == "restic").ToList(), _ => { }, CancellationToken.None);
        var secrets = new SecretRegistry();
        const string password = "vault-password-0451";
        var missing = Path.Combine(Path.GetTempPath(), $"failover-no-vault-{Guid.NewGuid():N}");
        var restic = await Assert.ThrowsAsync<ResticException>(() =>
            new ResticRepository(new ResticSettings(missing, password), secrets, Logger.None).SnapshotsAsync([], CancellationToken.None));

        var site = StackFileReader.Parse("""
            config:
              failover:role: standby
              failover:site: { provider: local, location: lab-t, address: 127.0.10.40, jurisdiction: DE }
              failover:servers: [{ name: db, full: process }]
            """, "tool-site", "Pulumi.tool-site.yaml");
        var hook = await Assert.ThrowsAsync<ToolFailureException>(() => new SiteHooks([], secrets, Logger.None, TimeSpan.FromMinutes(1))
            .RunAsync(site, "freeze", [$"echo starting; echo 'psql: error: password {password} rejected' >&2; exit 3"], null, CancellationToken.None));

        using var standIn = new StandIn();
        standIn.Script(new { rules = new[] { new { command = "up", stderr = $"error: provider rejected token {password}\n", exitCode = 1 } } });
        standIn.Secrets.Add(password);
        var cli = standIn.Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        var pulumi = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync("standby-hel1"));

        var r = Read(restic.Message);
        Assert.Equal("restic snapshots", r.Groups["tool"].Value);
        Assert.Contains(missing, r.Groups["doing"].Value);
        Assert.Matches("^exit [1-9]", r.Groups["exit"].Value);
        Assert.Contains("Fatal", r.Groups["line"].Value);

        var h = Read(hook.Message);
        Assert.Equal("on tool-site", h.Groups["doing"].Value);
        Assert.Equal("exit 3", h.Groups["exit"].Value);
        Assert.Equal($"psql: error: password {RedactingSink.Mask} rejected", h.Groups["line"].Value); // the line that names the error, not the last
        Assert.Contains("failover:migrate.freeze in Pulumi.tool-site.yaml", h.Groups["remedy"].Value);

        var p = Read(pulumi.Message);
        Assert.Equal("pulumi up", p.Groups["tool"].Value);
        Assert.Equal("for stack 'standby-hel1'", p.Groups["doing"].Value);
        Assert.Equal($"provider rejected token {RedactingSink.Mask}", p.Groups["line"].Value);

        Assert.All(new[] { restic.Message, hook.Message, pulumi.Message }, m => Assert.DoesNotContain(password, m));
    }

    [Fact]
    public void The_last_meaningful_line_is_the_one_naming_the_error_not_the_statement_echoed_after_it()
    {
        const string pgRestore = """
            pg_restore: connecting to database for restore
            pg_restore: error: could not execute query: ERROR:  extension "postgis" is not available
            Command was: CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;
            """;
        Assert.Equal("pg_restore: error: could not execute query: ERROR:  extension \"postgis\" is not available", ToolFailure.LastMeaningfulLine(pgRestore));
        Assert.Equal("unable to create lock in backend", ToolFailure.LastMeaningfulLine("{\"message_type\":\"status\"}\nunable to create lock in backend.\n"));
        Assert.Equal("(no error output)", ToolFailure.LastMeaningfulLine("  \n"));

        // A multi-line statement echoed after the error: a column named last_error is not the error.
        const string echoed = """
            pg_restore: error: could not execute query: ERROR:  type "citext" does not exist
            LINE 3:     email citext NOT NULL,
            Command was: CREATE TABLE public.delayed_jobs (
                id bigint NOT NULL,
                last_error text,
                failed_at timestamp without time zone
            );
            pg_restore: warning: errors ignored on restore: 1
            """;
        Assert.Equal("pg_restore: error: could not execute query: ERROR:  type \"citext\" does not exist", ToolFailure.LastMeaningfulLine(echoed));
    }

    [Fact]
    public async Task A_restic_command_refused_by_a_lock_names_who_holds_it_and_how_to_remove_a_stale_one()
    {
        var dir = Directory.CreateTempSubdirectory("failover-tool-lock-").FullName;
        try
        {
            var restic = new ResticRepository(new ResticSettings(Path.Combine(dir, "repo"), "lock-test-password"), new SecretRegistry(), Logger.None);
            await restic.InitAsync(CancellationToken.None);
            // A backup reading a slow stdin holds restic's shared lock; forget needs the exclusive one.
            var psi = new System.Diagnostics.ProcessStartInfo("bash", ["-c", "sleep 6 | restic backup -q --stdin --stdin-filename held"]);
            psi.Environment["RESTIC_REPOSITORY"] = Path.Combine(dir, "repo");
            psi.Environment["RESTIC_PASSWORD"] = "lock-test-password";
            using var holder = System.Diagnostics.Process.Start(psi)!;
            for (var i = 0; i < 100 && Directory.GetFiles(Path.Combine(dir, "repo", "locks")).Length == 0; i++) await Task.Delay(50);

            var e = await Assert.ThrowsAnyAsync<Exception>(() => restic.ForgetAsync(["0123abcd"], CancellationToken.None));
            var m = Read(e.Message);
            Assert.Equal("restic forget", m.Groups["tool"].Value);
            Assert.StartsWith("the repository is locked by PID ", m.Groups["line"].Value);
            Assert.Contains("`failover unlock` removes its stale lock", m.Groups["remedy"].Value);
            await holder.WaitForExitAsync();
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
