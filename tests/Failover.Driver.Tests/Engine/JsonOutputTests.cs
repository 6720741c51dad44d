using System.Text.Json;
using Failover.Core.Topology;
using Failover.Driver.Cli;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// `--json` on every verb that reports: stdout is one JSON document with schemaVersion and kind, and the progress
/// lines a run prints go to stderr (runs over in-memory ports; rehearse and backup against real servers in
/// EndToEnd/RehearsalTests).
/// </summary>
public class JsonOutputTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));
    private readonly FakePorts _fake;

    public JsonOutputTests()
    {
        var topology = TopologyLoader.Load(Path.Combine(_project, "infra", "stacks"));
        _fake = new FakePorts(_time, topology.Tenants);
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, _project, logConsole: stderr) { Time = _time, Ports = (_, _) => Task.FromResult(_fake.Ports), Input = null };
        // The copied Pulumi.yaml names an S3 backend; these runs keep their state in the project folder.
        return new CliRun(app.Run(args.Contains("--state-dir") ? args : [.. args, "--state-dir", Path.Combine(_project, ".failover")]), stdout.ToString(), stderr.ToString());
    }

    /// <summary>Parses stdout as exactly one document of the given kind at the current schema version.</summary>
    private static JsonElement Document(CliRun run, string kind)
    {
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement.Clone();
        Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(kind, root.GetProperty("kind").GetString());
        return root;
    }

    [Fact]
    public void Plan_and_status_carry_a_schema_version()
    {
        var plan = Document(Run("plan", "--to", "standby-hel1", "--json"), "plan");
        Assert.Equal("standby-hel1", plan.GetProperty("target").GetProperty("stack").GetString());
        var status = Document(Run("status", "--json"), "status");
        Assert.Equal("prod-fsn1", status.GetProperty("production").GetString());
    }

    [Fact]
    public void Policies_json_is_an_option_not_a_policy_id()
    {
        var run = Run("policies", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var policies = Document(run, "policies").GetProperty("policies").EnumerateArray().ToList();
        Assert.Contains(policies, p => p.GetProperty("id").GetString() == "vault-colocated" && p.GetProperty("severity").GetString() == "error");
        Assert.All(policies, p => Assert.False(string.IsNullOrEmpty(p.GetProperty("fix").GetString())));

        var one = Document(Run("policies", "vault-colocated", "--json"), "policies");
        Assert.Single(one.GetProperty("policies").EnumerateArray());

        var typo = Run("policies", "--jsno");
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("unknown option '--jsno'", typo.Stderr);
    }

    [Fact]
    public void Run_json_prints_the_incident_report_on_stdout_and_progress_on_stderr()
    {
        var run = Run("run", "--to", "standby-hel1", "--yes", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var report = Document(run, "incident-report");
        Assert.Equal("resolved", report.GetProperty("outcome").GetString());
        Assert.Equal(660, report.GetProperty("rtoSeconds").GetDouble());
        Assert.Contains("restore", run.Stderr); // the step lines still reach the operator
        Assert.Contains("Recovered on standby-hel1", run.Stderr);

        var again = Document(Run("report", "--json"), "incident-report");
        Assert.Equal(report.GetProperty("run").GetProperty("runId").GetString(), again.GetProperty("run").GetProperty("runId").GetString());
        var history = Document(Run("report", "--history", "--json"), "rehearsal-history");
        Assert.Equal(0, history.GetProperty("rehearsals").GetArrayLength());
    }

    [Fact]
    public void Resume_json_prints_the_report_of_the_continued_run()
    {
        _fake.Healthy = false;
        var failed = Run("run", "--to", "standby-hel1", "--yes", "--json");
        Assert.Equal(4, failed.ExitCode);
        Assert.Equal("failed", Document(failed, "incident-report").GetProperty("outcome").GetString());
        _fake.Healthy = true;
        var resumed = Run("resume", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal("resolved", Document(resumed, "incident-report").GetProperty("outcome").GetString());
    }

    [Fact]
    public void Dry_runs_of_run_and_migrate_list_their_steps()
    {
        var run = Document(Run("run", "--to", "standby-hel1", "--dry-run", "--json"), "dry-run");
        Assert.Equal("run", run.GetProperty("verb").GetString());
        Assert.Equal("select-backup", run.GetProperty("steps")[1].GetProperty("step").GetString());

        var local = Path.Combine(Repo.Root, "examples", "local");
        var migrate = Run("migrate", "--stacks", local, "--state-dir", Path.Combine(_project, "state"), "--to", "local-standby", "--dry-run", "--json");
        Assert.True(migrate.ExitCode == 0, migrate.Stderr);
        var steps = Document(migrate, "dry-run").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetString()).ToList();
        Assert.Contains("freeze", steps);
        Assert.Contains("cutover", steps);
    }
}

/// <summary>A run checks the credentials its steps need before the first step, and names each missing one.</summary>
public class CredentialCheckTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("failover-cred-").FullName;

    public CredentialCheckTests()
    {
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "examples", "local"), "Pulumi*.yaml"))
            File.Copy(f, Path.Combine(_project, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_project, true);

    private CliRun Run(Func<string, string?> variable, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, _project, logConsole: stderr) { Input = null };
        app.Variable = variable;
        return new CliRun(app.Run(args), stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void A_missing_dns_key_and_vault_password_stop_the_run_before_its_first_step()
    {
        var run = Run(_ => null, "run", "--to", "local-standby", "--yes");
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("the run needs credentials it cannot find; nothing was done", run.Stderr);
        Assert.Contains("PowerDNS API key of drill.test (for cutover): FAILOVER_DNS_API_KEY, or the state directory's credentials.env", run.Stderr);
        Assert.Contains("vault password (for assess, select-backup, restore)", run.Stderr);
        Assert.DoesNotContain("select-backup FAILED", run.Stdout + run.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_project, ".failover", "runs")), "no run was started");
    }

    [Fact]
    public void The_state_directory_credentials_file_provides_the_key_when_only_its_owner_can_read_it()
    {
        var state = Path.Combine(_project, ".failover");
        Failover.Driver.Runbooks.CredentialsFile.Write(state, new Dictionary<string, string> { ["FAILOVER_DNS_API_KEY"] = "k3y" });
        var run = Run(_ => null, "run", "--to", "local-standby", "--yes");
        Assert.DoesNotContain("PowerDNS API key", run.Stderr); // found in the file; only the vault password is missing
        Assert.Contains("vault password", run.Stderr);

        File.SetUnixFileMode(Path.Combine(state, "credentials.env"), (UnixFileMode)Convert.ToInt32("644", 8));
        var open = Run(_ => null, "run", "--to", "local-standby", "--yes");
        Assert.Contains("is readable by others and is not used", open.Stderr);
        Assert.Contains("PowerDNS API key", open.Stderr);
    }
}
