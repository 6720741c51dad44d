namespace Failover.Driver.Tests;

/// <summary>The help and errors a new user meets first: the examples work, typos get a suggestion, placeholders say what they take.</summary>
public class CliFixesTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();

    public void Dispose() => Directory.Delete(_project, recursive: true);

    [Fact]
    public void Migrate_dry_run_the_first_example_of_its_help_shows_the_steps_and_what_a_cloud_source_lacks()
    {
        // The shipped Pulumi.yaml keeps the run state in S3; without AWS credentials here it is kept in a folder.
        var state = Path.Combine(_project, ".failover");
        var run = CliRun.Of(_project, "migrate", "--to", "standby-hel1", "--dry-run", "--state-dir", state);
        Assert.Equal(1, run.ExitCode); // was 3: the steps were never shown
        Assert.Contains("Migration of prod-fsn1 to standby-hel1 would run:", run.Stdout);
        Assert.Contains("final-sync", run.Stdout);
        Assert.Contains("MISSING before a real migration: infra/stacks/Pulumi.prod-fsn1.yaml: failover:migrate", run.Stderr);
        Assert.Contains("fix: add failover:migrate", run.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_project, ".failover", "runs")));
        // Without --dry-run the migration still refuses before changing anything.
        Assert.Equal(3, CliRun.Of(_project, "migrate", "--to", "standby-hel1", "--yes", "--state-dir", state).ExitCode);
    }

    [Fact]
    public void Restore_into_a_cloud_site_refuses_at_once_naming_why_and_the_way_out_and_changes_nothing()
    {
        // A cloud failover --without-tenant leaves the tenant out of the data server's boot-time restore; `failover restore`
        // waited (2 h) on the health document for a tenant that server never restores.
        var state = Path.Combine(_project, ".failover");
        var run = CliRun.Of(_project, "restore", "--tenant", "contoso", "--yes", "--state-dir", state);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("`failover restore` restores into a local site only: prod-fsn1 runs on hetzner", run.Stderr);
        Assert.Contains("nothing was changed. Restore contoso on its data server by hand", run.Stderr);
        Assert.False(Directory.Exists(Path.Combine(state, "runs")) && Directory.EnumerateFileSystemEntries(Path.Combine(state, "runs")).Any());
    }

    [Theory]
    [InlineData("plan", "--to", "standby-hel")]
    [InlineData("run", "--to", "stanby-hel1", "--dry-run")]
    [InlineData("migrate", "--to", "standby-hell1", "--dry-run")]
    [InlineData("rehearse", "--site", "standby-hel", "--yes")]
    public void An_unknown_stack_gets_a_did_you_mean(params string[] args)
    {
        // The shipped Pulumi.yaml keeps the run state in S3; without AWS credentials here it is kept in a folder.
        var run = CliRun.Of(_project, args[0] == "plan" ? args : [.. args, "--state-dir", Path.Combine(_project, ".failover")]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("(did you mean 'standby-hel1'?)", run.Stderr);
    }

    [Fact]
    public void A_name_far_from_every_stack_gets_no_suggestion()
    {
        var run = CliRun.Of(_project, "plan", "--to", "zzz");
        Assert.Equal(2, run.ExitCode);
        Assert.DoesNotContain("did you mean", run.Stderr);
    }

    [Fact]
    public void Option_placeholders_say_what_they_take_and_drill_help_states_its_real_default()
    {
        Assert.Contains("--to <STACK>", CliRun.Of(_project, "run", "--help").Stdout);
        Assert.Contains("--restore-point <TIME|SNAPSHOT>", CliRun.Of(_project, "run", "--help").Stdout);
        Assert.Contains("--site <STACK>", CliRun.Of(_project, "rehearse", "--help").Stdout);
        Assert.Contains("--stacks <DIR>", CliRun.Of(_project, "plan", "--help").Stdout);
        var drill = CliRun.Of(_project, "drill", "--help").Stdout;
        Assert.DoesNotContain("examples/local by default", drill);
        Assert.Contains("failover drill --stacks examples/local", drill);
        Assert.Contains("--scale <FRACTION>", drill);
        Assert.DoesNotContain("(default 1) [default: 1]", drill);
    }
}
