using System.Text.Json;

namespace Failover.Driver.Tests;

public class PlanCommandTests : IDisposable
{
    private readonly string _project = Repo.CopyProject();

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private string Stack(string name) => Path.Combine(_project, "infra", "stacks", $"Pulumi.{name}.yaml");

    [Fact]
    public void Plan_finds_the_stacks_from_pulumi_yaml_and_exits_0()
    {
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("recover on standby-hel1", run.Stdout);
        Assert.Contains("Tenant restore order", run.Stdout);
        Assert.Contains("Estimated RTO", run.Stdout);
    }

    [Fact]
    public void Plan_judges_its_estimates_against_the_time_limits_the_run_applies()
    {
        var stdout = new StringWriter();
        var tight = new Failover.Core.Planning.RuntimeOptions(cloudRestore: new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10)));
        var code = new Failover.Driver.Cli.App(stdout, new StringWriter(), _project) { Options = tight, Input = null }.Run(["plan", "--to", "standby-hel1"]);
        Assert.Equal(0, code); // a warning, not an error
        Assert.Contains("wait-shorter-than-estimate", stdout.ToString());
        Assert.Contains("but the run waits at most 30s for it (runtime option cloudRestore)", stdout.ToString());
        Assert.DoesNotContain("wait-shorter-than-estimate", CliRun.Of(_project, "plan", "--to", "standby-hel1").Stdout);
    }

    [Fact]
    public void The_time_limits_an_operator_sets_in_the_production_stack_file_are_the_ones_plan_judges_against()
    {
        File.WriteAllText(Stack("prod-fsn1"), File.ReadAllText(Stack("prod-fsn1"))
            .Replace("  failover:targets:", "  failover:timeLimits:\n    cloudRestore: 30s\n  failover:targets:"));

        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");

        Assert.Equal(0, run.ExitCode); // a warning, not an error
        Assert.Contains("but the run waits at most 30s for it (runtime option cloudRestore)", run.Stdout);
        Assert.Contains("raise failover:timeLimits.cloudRestore.timeout in the production stack file", run.Stdout);
    }

    [Fact]
    public void A_time_limit_no_run_could_use_stops_the_failover_naming_the_file_key_and_fix_and_changes_nothing()
    {
        var prod = Stack("prod-fsn1");
        File.WriteAllText(prod, File.ReadAllText(prod)
            .Replace("  failover:targets:", "  failover:timeLimits:\n    cloudGate: { timeout: 5s, poll: 30s }\n  failover:targets:"));
        var line = File.ReadAllLines(prod).ToList().FindIndex(l => l.StartsWith("    cloudGate:", StringComparison.Ordinal)) + 1;
        string[] Files() => Directory.GetFiles(_project, "*", SearchOption.AllDirectories).Order()
            .Select(f => $"{Path.GetRelativePath(_project, f)} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}").ToArray();
        var before = Files();

        var run = CliRun.Of(_project, "run", "--to", "standby-hel1", "--yes");

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("error: the stack files cannot be used (nothing was changed):", run.Stderr);
        Assert.Contains($"Pulumi.prod-fsn1.yaml:{line}: failover:timeLimits.cloudGate: polls every 00:00:30 but gives up after 00:00:05", run.Stderr);
        Assert.Contains("fix: shorten failover:timeLimits.cloudGate.poll or lengthen failover:timeLimits.cloudGate.timeout in the production stack file", run.Stderr);
        Assert.Equal(before, Files()); // no lock, no journal, no stack file touched
    }

    [Fact]
    public void A_thaw_limit_raised_in_the_production_stack_file_lengthens_the_time_the_process_waits_after_ctrl_c()
    {
        var app = new Failover.Driver.Cli.App(new StringWriter(), new StringWriter(), _project) { Input = null };
        Assert.Equal(TimeSpan.FromMinutes(45), app.AfterInterrupt(null));
        File.WriteAllText(Stack("prod-fsn1"), File.ReadAllText(Stack("prod-fsn1"))
            .Replace("  failover:targets:", "  failover:timeLimits:\n    migrateHook: 2h\n  failover:targets:"));

        // Read before the command runs (System.CommandLine fixes it then): a 2 h thaw is not cut off after 45 min.
        Assert.Equal(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(15), app.AfterInterrupt(null));
        // Stack files that cannot be read keep the default; the command itself reports them.
        Assert.Equal(TimeSpan.FromMinutes(45), app.AfterInterrupt(Path.Combine(_project, "missing")));
    }

    [Fact]
    public void Plan_shows_each_server_s_user_data_against_the_provider_s_limit()
    {
        var text = CliRun.Of(_project, "plan", "--to", "standby-aws-fra");
        Assert.Matches(@"\n  db-1 +user data \d+\.\d KB of 16 KB\n", text.Stdout);
        Assert.Matches(@"\n  app-1 +user data \d+\.\d KB of 16 KB\n", text.Stdout);
        using var doc = JsonDocument.Parse(CliRun.Of(_project, "plan", "--to", "standby-hel1", "--json").Stdout);
        var servers = doc.RootElement.GetProperty("servers").EnumerateArray().ToList();
        Assert.Equal(["standby-hel1-db-1", "standby-hel1-app-1"], servers.Select(s => s.GetProperty("name").GetString()));
        Assert.All(servers, s => Assert.Equal(32768, s.GetProperty("userDataLimitBytes").GetInt32()));
        Assert.All(servers, s => Assert.InRange(s.GetProperty("userDataBytes").GetInt32(), 1000, 32768));
    }

    [Fact]
    public void Plan_json_explains_order_and_estimates()
    {
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement;
        var tenants = root.GetProperty("restore").GetProperty("tenants").EnumerateArray().ToList();
        Assert.Equal(10, tenants.Count);
        // Tier 1 first, smallest first inside the tier.
        Assert.Equal(["fabrikam", "contoso", "northwind"], tenants.Take(3).Select(t => t.GetProperty("name").GetString()));
        Assert.Contains("smallest", root.GetProperty("restore").GetProperty("order").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("restore").GetProperty("why").GetString()));
        Assert.True(root.GetProperty("rto").GetProperty("withinTarget").GetBoolean());
        Assert.Contains("Sum of the steps", root.GetProperty("rto").GetProperty("explanation").GetString());
        Assert.Contains("Worst case", root.GetProperty("rpo").GetProperty("explanation").GetString());
        Assert.Equal(14400, root.GetProperty("rto").GetProperty("targetSeconds").GetInt32());
        Assert.Equal("restore", root.GetProperty("steps")[3].GetProperty("step").GetString());
        Assert.True(root.GetProperty("dnsCutover").GetProperty("required").GetBoolean());
    }

    [Fact]
    public void Plan_says_what_to_run_where_the_run_stops_and_what_to_do_when_dns_is_down()
    {
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.Equal(0, run.ExitCode);
        var text = run.Stdout;
        Assert.Contains("What to run\n  failover run --to standby-hel1\n", text);
        Assert.Contains("T+0 is the moment", text);
        // Served again when the estimated RTO is reached (gate and cutover done), not when a tenant's restore ends.
        var rto = System.Text.RegularExpressions.Regex.Match(text, @"Estimated RTO\s+(\S+ \S+)").Groups[1].Value;
        Assert.Contains($"Customers are served again at T+{rto}: after the health gate and the DNS cutover", text);
        Assert.Contains("--accept-data-loss", text);
        Assert.Contains("--restore-point", text);
        Assert.Matches($@"fabrikam\s+T\+\d+m \d+s\s+T\+{System.Text.RegularExpressions.Regex.Escape(rto)}", text);
        Assert.Contains("AWS credentials for Route 53 (cutover)", text);
        Assert.Contains("If the DNS provider's API is down", text);
        Assert.Contains("registrar", text);
        // The runbook comes before the details: the command is the first thing after the estimates.
        Assert.True(text.IndexOf("What to run", StringComparison.Ordinal) < text.IndexOf("Runbook", StringComparison.Ordinal));

        using var doc = JsonDocument.Parse(CliRun.Of(_project, "plan", "--to", "standby-hel1", "--json").Stdout);
        var guide = doc.RootElement.GetProperty("guide");
        Assert.Equal("failover run --to standby-hel1", guide.GetProperty("command").GetString());
        Assert.Equal(doc.RootElement.GetProperty("rto").GetProperty("estimateSeconds").GetInt32(), guide.GetProperty("servedAtSeconds").GetInt32());
        Assert.Contains(guide.GetProperty("stops").EnumerateArray(), s => s.GetProperty("what").GetString()!.Contains("--accept-data-loss"));
        Assert.Contains(guide.GetProperty("credentials").EnumerateArray(), c => c.GetProperty("steps")[0].GetString() == "cutover");
        Assert.True(guide.GetProperty("dnsApiDown").GetArrayLength() >= 3);

        var md = CliRun.Of(_project, "plan", "--to", "standby-hel1", "--markdown").Stdout;
        Assert.Contains("## Where the run stops and asks", md);
        Assert.Matches($@"\| fabrikam \| T\+\d+m \d+s \| T\+{System.Text.RegularExpressions.Regex.Escape(rto)} \|", md);
    }

    [Fact]
    public void Vault_moved_into_fsn1_fails_the_plan_naming_the_vault_policy()
    {
        var vault = File.ReadAllText(Stack("vault-aws-par"))
            .Replace("    provider: aws\n    region: eu-west-3", "    provider: hetzner\n    location: fsn1")
            // At Hetzner a vault is a Storage Box (an S3 vault there is refused by the reader).
            .Replace("kind: s3", "kind: storagebox");
        File.WriteAllText(Stack("vault-aws-par"), vault);
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("ERROR   vault-colocated", run.Stdout);
        Assert.Contains("vault-aws-par", run.Stdout);
    }

    [Fact]
    public void Plan_warns_when_the_run_state_would_live_on_one_machine_and_not_with_the_shipped_s3_backend()
    {
        var shipped = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.DoesNotContain("run-state-on-one-machine", shipped.Stdout);

        // Pulumi Cloud keeps the Pulumi state shared, but the run state then stays in this machine's .failover/.
        var yaml = Path.Combine(_project, "Pulumi.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("url: s3://acme-failover-state?region=eu-north-1", "url: https://api.pulumi.com"));
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.Equal(0, run.ExitCode); // a warning, not an error: the plan still gates on errors only
        Assert.Contains("WARNING run-state-on-one-machine", run.Stdout);
        Assert.Contains("https://api.pulumi.com is not S3, so the run state stays in .failover/ on the machine that runs `failover`", run.Stdout);
    }

    [Fact]
    public void Markdown_has_tables()
    {
        var run = CliRun.Of(_project, "plan", "--to", "standby-aws-fra", "--markdown");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("# Failover plan: prod-fsn1 → standby-aws-fra", run.Stdout);
        Assert.Contains("| # | tenant | tier | data | starts | back after |", run.Stdout);
    }

    [Fact]
    public void Unknown_target_is_a_usage_error_listing_the_standbys()
    {
        var run = CliRun.Of(_project, "plan", "--to", "standby-nbg1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown stack 'standby-nbg1'", run.Stderr);
        Assert.Contains("standby-aws-fra, standby-hel1", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void Production_as_target_is_a_usage_error()
    {
        var run = CliRun.Of(_project, "plan", "--to", "prod-fsn1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("'prod-fsn1' is a production stack", run.Stderr);
    }

    [Fact]
    public void Missing_to_option_is_a_usage_error()
    {
        var run = CliRun.Of(_project, "plan");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--to", run.Stderr);
        Assert.Contains("--help", run.Stderr);
    }

    [Fact]
    public void Broken_stack_file_exits_3_naming_file_key_line_and_changes_nothing()
    {
        File.WriteAllText(Stack("standby-hel1"), File.ReadAllText(Stack("standby-hel1")).Replace("location: hel1", "location: hel9"));
        var before = Directory.GetFiles(_project, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText);
        var run = CliRun.Of(_project, "plan", "--to", "standby-hel1");
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("nothing was changed", run.Stderr);
        Assert.Contains("Pulumi.standby-hel1.yaml:7: failover:site.location: unknown hetzner location 'hel9'", run.Stderr);
        Assert.Contains("fix: use one of: fsn1", run.Stderr);
        var after = Directory.GetFiles(_project, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Without_pulumi_yaml_the_error_says_to_pass_stacks()
    {
        var empty = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var run = CliRun.Of(empty, "status");
            Assert.Equal(3, run.ExitCode);
            Assert.Contains("--stacks DIR", run.Stderr);
        }
        finally { Directory.Delete(empty); }
    }

    [Fact]
    public void Stacks_option_reads_the_local_example()
    {
        var run = CliRun.Of(Repo.Root, "plan", "--stacks", "examples/local", "--to", "local-standby", "--json");
        Assert.Equal(0, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Stdout);
        Assert.Equal("local-prod", doc.RootElement.GetProperty("production").GetProperty("stack").GetString());
    }

    [Fact]
    public void Help_teaches_with_examples()
    {
        var run = CliRun.Of(_project, "plan", "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Examples:", run.Stdout);
        Assert.Contains("failover plan --to standby-hel1", run.Stdout);
        Assert.Contains("--stacks", run.Stdout);
        var root = CliRun.Of(_project, "--help");
        Assert.Contains("Exit codes:", root.Stdout);
    }
}
