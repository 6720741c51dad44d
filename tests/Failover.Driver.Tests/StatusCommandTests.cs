using Failover.Driver.Cli;
using System.Text.Json;

namespace Failover.Driver.Tests;

public class StatusCommandTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();
    /// <summary>The copied Pulumi.yaml names an S3 backend; status reads the run state from the project folder instead.</summary>
    private string State => Path.Combine(_project, ".failover");

    public void Dispose() => Directory.Delete(_project, recursive: true);

    [Fact]
    public void Status_of_a_project_whose_shared_run_state_cannot_be_read_says_so_and_checks_the_rest()
    {
        var (key, profile) = (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"), Environment.GetEnvironmentVariable("AWS_PROFILE"));
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", null);
        Environment.SetEnvironmentVariable("AWS_PROFILE", "failover-tests-no-such-profile");
        try
        {
            var run = CliRun.Of(_project, "status"); // Pulumi.yaml: s3://acme-failover-state, no credentials here
            Assert.Equal(ExitCodes.Blind, run.ExitCode);
            Assert.Contains("the rehearsal history cannot be read: the run state at s3://acme-failover-state/.failover/failover needs AWS credentials", run.Stdout);
            Assert.Contains("prod-fsn1", run.Stdout);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", key);
            Environment.SetEnvironmentVariable("AWS_PROFILE", profile);
        }
    }

    [Fact]
    public void Status_shows_every_stack_with_its_failure_domain()
    {
        var run = CliRun.Of(_project, "status", "--state-dir", State);
        Assert.Equal(ExitCodes.Blind, run.ExitCode); // no pulumi here: the live checks could not look
        foreach (var name in new[] { "prod-fsn1", "standby-hel1", "standby-aws-fra", "vault-aws-par", "dns-route53" })
            Assert.Contains(name, run.Stdout);
        Assert.Contains("fsn1-dc14", run.Stdout);
        Assert.Contains("eu-central", run.Stdout);
        Assert.Contains("Findings: 0 error(s)", run.Stdout);
    }

    [Fact]
    public void Status_json_lists_stacks_and_never_secret_values()
    {
        var run = CliRun.Of(_project, "status", "--json", "--state-dir", State);
        Assert.Equal(ExitCodes.Blind, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Stdout);
        Assert.Equal(5, doc.RootElement.GetProperty("stacks").GetArrayLength());
        Assert.False(doc.RootElement.GetProperty("hasErrors").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("blind").GetBoolean());
        Assert.Contains("hcloud:token", run.Stdout);
        Assert.DoesNotContain("v1:Q2lwaGVy", run.Stdout);
        Assert.DoesNotContain("secure", run.Stdout);
    }

    [Fact]
    public void Status_exits_1_on_an_error_finding()
    {
        var path = Path.Combine(_project, "infra", "stacks", "Pulumi.vault-aws-par.yaml");
        File.WriteAllText(path, File.ReadAllText(path).Replace("productionAccess: append-only", "productionAccess: read-write"));
        var run = CliRun.Of(_project, "status", "--state-dir", State);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("production-can-delete-backups", run.Stdout);
    }

    [Fact]
    public void Status_is_never_green_when_it_could_not_look()
    {
        var stdout = new StringWriter();
        var app = new App(stdout, new StringWriter(), _project) { Variable = v => v == "FAILOVER_PULUMI" ? "/nonexistent/pulumi" : null };
        Assert.Equal(ExitCodes.Blind, app.Run(["status"]));
        var text = stdout.ToString();
        // Every check that needed pulumi says it could not look, naming what: the vault's backups and each cloud site.
        Assert.Contains("vault-aws-par: backup age: COULD NOT CHECK: the backup age of vault-aws-par was not read", text);
        Assert.Contains("prod-fsn1: site health: COULD NOT CHECK: cannot read the stack outputs of prod-fsn1", text);

        // An alarm still wins over blindness: a real finding exits 1.
        var path = Path.Combine(_project, "infra", "stacks", "Pulumi.vault-aws-par.yaml");
        File.WriteAllText(path, File.ReadAllText(path).Replace("productionAccess: append-only", "productionAccess: read-write"));
        Assert.Equal(ExitCodes.Findings, app.Run(["status"]));
    }

    [Fact]
    public void Log_json_writes_structured_events_with_stack_names()
    {
        var log = Path.Combine(_project, "events.jsonl");
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1", "--log-json", log);
        Assert.Equal(0, run.ExitCode);
        var events = File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var planned = Assert.Single(events, e => e.GetProperty("MessageTemplate").GetString()!.StartsWith("Planned recovery"));
        Assert.Equal("prod-fsn1", planned.GetProperty("Properties").GetProperty("Stack").GetString());
        Assert.Equal("standby-hel1", planned.GetProperty("Properties").GetProperty("Target").GetString());
    }
}

public class PoliciesCommandTests
{
    [Fact]
    public void Docs_policies_page_is_the_current_output_of_the_command()
    {
        var run = CliRun.Of(Repo.Root, "policies", "--markdown");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "docs", "policies.md")), run.Stdout);
    }

    [Fact]
    public void One_policy_is_explained_with_its_fix()
    {
        var run = CliRun.Of(Repo.Root, "policies", "vault-colocated");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("vault-colocated (error)", run.Stdout);
        Assert.Contains("fix:", run.Stdout);
        Assert.Equal(2, CliRun.Of(Repo.Root, "policies", "vault-colocate").ExitCode);
    }
}
