using System.Diagnostics;
using Failover.Core.Sites;

namespace Failover.Core.Tests.Sites;

public class UserDataTests
{
    private const string Password = "Zq9PasswordThatMustNeverAppearInTheScript";
    private static readonly ResticCredentials Credentials =
        new("s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic", Password, "AKIAEXAMPLE", "secretAccessKeyExample");

    private static (SitePlan Plan, RestoreRecipe Recipe) Hel1()
    {
        var t = SiteStacks.FailedOverToHel1();
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        return (plan, RestoreRecipe.For(t, plan.Stack, plan.DataServer!.Capacity.Vcpus)!);
    }

    private static string DataServerScript()
    {
        var (plan, recipe) = Hel1();
        return BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe));
    }

    [Fact]
    public void The_recipe_restores_every_tenant_tier_first_then_smallest_first()
    {
        var (_, recipe) = Hel1();
        Assert.Equal(["fabrikam", "contoso", "northwind", "litware", "adventure-works", "wingtip", "tailspin", "margie", "lucerne", "proseware"],
            recipe.Tenants.Select(t => t.Tenant.Name));
        Assert.Equal(4, recipe.PgRestoreJobs); // the MVD db server is a cpx32 with 4 vCPUs
    }

    [Fact]
    public void Each_tenant_is_restored_from_the_backup_set_of_its_database_snapshot_then_verified()
    {
        var (_, recipe) = Hel1();
        var northwind = recipe.Tenants.Single(t => t.Tenant.Name == "northwind");
        Assert.Equal([RestoreStepKind.FindRun, RestoreStepKind.FetchManifest, RestoreStepKind.CreateDatabase, RestoreStepKind.FetchDump,
            RestoreStepKind.RestoreDatabase, RestoreStepKind.RemoveDump, RestoreStepKind.RestoreFiles, RestoreStepKind.VerifyDatabase,
            RestoreStepKind.VerifyFiles], northwind.Steps.Select(s => s.Kind));
        string Command(RestoreStepKind kind) => northwind.Steps.Single(s => s.Kind == kind).Command;
        var id = SiteStacks.Snapshot("northwind");
        Assert.Contains($"backup_run {id} northwind", Command(RestoreStepKind.FindRun));
        // The dump is where `failover backup` streams it: /<tenant>.dump inside the database snapshot.
        Assert.Contains($"restic --no-lock dump {id} /northwind.dump > /var/lib/failover/spool/northwind.dump", Command(RestoreStepKind.FetchDump));
        Assert.Contains("pg_restore --jobs=4", Command(RestoreStepKind.RestoreDatabase));
        Assert.EndsWith("/var/lib/failover/spool/northwind.dump", Command(RestoreStepKind.RestoreDatabase));
        // Files and manifest are the parts of the same run, found by the tags the backup wrote.
        Assert.Contains("restore --tag failover,tenant=northwind,run=\"$run\",part=files latest --target /srv/tenants/northwind/files",
            Command(RestoreStepKind.RestoreFiles));
        Assert.Contains("dump --tag failover,tenant=northwind,run=\"$run\",part=manifest latest /manifest.json", Command(RestoreStepKind.FetchManifest));
        Assert.Contains("verify_rows northwind /var/lib/failover/spool/northwind.manifest.json", Command(RestoreStepKind.VerifyDatabase));
    }

    private const string PreHook = "systemctl stop northwind-worker.service";
    private const string PostHook = "psql -tAc 'select count(*) from customers' | xargs echo customers ready:";

    [Fact]
    public void A_tenant_s_hooks_run_before_its_restore_and_after_its_verification()
    {
        var t = SiteStacks.FailedOverToHel1WithHooks(PreHook, PostHook);
        var recipe = RestoreRecipe.For(t, t.Find("standby-hel1")!, 4)!;
        var northwind = recipe.Tenants.Single(x => x.Tenant.Name == "northwind");
        var kinds = northwind.Steps.Select(s => s.Kind).ToList();
        Assert.Equal(kinds.IndexOf(RestoreStepKind.FetchManifest) + 1, kinds.IndexOf(RestoreStepKind.PreHook));
        Assert.Equal(kinds.IndexOf(RestoreStepKind.PreHook) + 1, kinds.IndexOf(RestoreStepKind.CreateDatabase));
        Assert.Equal(RestoreStepKind.PostHook, kinds[^1]);
        Assert.Equal(kinds.IndexOf(RestoreStepKind.VerifyFiles) + 1, kinds.IndexOf(RestoreStepKind.PostHook));
        Assert.Equal($"run_hook northwind post /srv/tenants/northwind/files {Sh.Quote(PostHook)}", northwind.Steps[^1].Command);
        // Tenants without hooks get none, and the script gives root a PostgreSQL role only when some tenant has hooks.
        Assert.DoesNotContain(recipe.Tenants.Single(x => x.Tenant.Name == "contoso").Steps, s => s.Kind is RestoreStepKind.PreHook or RestoreStepKind.PostHook);
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        Assert.Contains("createuser --superuser root", BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe)));
        Assert.DoesNotContain("createuser", DataServerScript());
        Assert.Contains("FAILOVER_REHEARSAL=0", DataServerScript());
    }

    [Fact]
    public void A_hook_gets_the_tenant_s_environment_its_output_is_logged_and_its_failure_fails_the_tenant()
    {
        var (code, output) = Bash("run_hook acme post /srv/tenants/acme/files 'echo \"$FAILOVER_TENANT $PGDATABASE $FAILOVER_FILES_DIR $FAILOVER_REHEARSAL\"; echo warm; exit 3'; echo \"exit=$?\"\n" +
                                  "run_hook acme pre /srv/tenants/acme/files true; echo \"exit=$?\"\n" +
                                  "FAILOVER_REHEARSAL=1\nrun_hook acme post /srv/tenants/acme/files 'echo rehearsal=$FAILOVER_REHEARSAL'");
        Assert.Equal(0, code);
        Assert.Equal("acme post-restore hook: acme acme /srv/tenants/acme/files 0\nacme post-restore hook: warm\nexit=3\nexit=0\n" +
                     "acme post-restore hook: rehearsal=1\n", output);
    }

    [Fact]
    public void The_script_with_hooks_passes_shellcheck()
    {
        RequireOnPath("shellcheck");
        var t = SiteStacks.FailedOverToHel1WithHooks(PreHook, PostHook);
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        var script = BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, RestoreRecipe.For(t, plan.Stack, 4)));
        var result = Run("shellcheck", "-s bash -S warning", script);
        Assert.True(result.Code == 0, result.Output);
        Assert.Equal(0, Run("bash", "-n", script).Code);
    }

    [Fact]
    public void A_single_job_pipes_the_dump_into_pg_restore_without_spooling()
    {
        var t = SiteStacks.FailedOverToHel1();
        var recipe = RestoreRecipe.For(t, t.Find("standby-hel1")!, 1)!;
        var northwind = recipe.Tenants.Single(x => x.Tenant.Name == "northwind");
        Assert.DoesNotContain(northwind.Steps, s => s.Kind is RestoreStepKind.FetchDump or RestoreStepKind.RemoveDump);
        Assert.Contains($"restic --no-lock dump {SiteStacks.Snapshot("northwind")} /northwind.dump | runuser -u postgres -- pg_restore --single-transaction",
            northwind.Steps.Single(s => s.Kind == RestoreStepKind.RestoreDatabase).Command);
    }

    [Fact]
    public void A_standby_without_snapshots_has_no_recipe()
    {
        var t = SiteStacks.Load();
        Assert.Null(RestoreRecipe.For(t, t.Find("standby-hel1")!, 4));
    }

    [Fact]
    public void The_script_names_every_tenant_s_snapshot_id()
    {
        var script = DataServerScript();
        foreach (var tenant in SiteStacks.Tenants)
            Assert.Contains(SiteStacks.Snapshot(tenant), script);
        Assert.Contains("\"snapshots\":{", script); // the health document reports them
    }

    [Fact]
    public void Each_tenant_is_reported_restored_only_when_its_restore_and_checks_succeed()
    {
        var script = DataServerScript();
        Assert.Contains($"if restore_northwind; then restored+=('\"northwind\":\"{SiteStacks.Snapshot("northwind")}\"'); else failed+=('\"northwind\"'); fi", script);
        Assert.Contains("verify_rows northwind /var/lib/failover/spool/northwind.manifest.json || { fail 'FAILED: northwind: compare row counts with the manifest'; return 1; }", script);
        Assert.Contains("exit 1", script[script.IndexOf("mv ", script.IndexOf("printf '{\"failed\"", StringComparison.Ordinal), StringComparison.Ordinal)..]);
    }

    [Fact]
    public void The_run_is_read_from_the_database_snapshot_s_tags()
    {
        RequireOnPath("jq"); // the standby installs jq too
        const string snapshots = """[{"id":"9f8e7d6c","tags":["failover","tenant=northwind","run=20261122T095040Z-3fa2c1","part=db"]}]""";
        var found = Bash($"restic() {{ echo '{snapshots}'; }}\nbackup_run 9f8e7d6c northwind");
        Assert.Equal((0, "20261122T095040Z-3fa2c1"), (found.Code, found.Output.Split('\n')[0])); // stdout first, then the log on stderr
        Assert.Contains("northwind: database snapshot 9f8e7d6c is from backup run 20261122T095040Z-3fa2c1", found.Output);
        // An id of another tenant, or of the files part, is refused rather than restored as this tenant's database.
        Assert.NotEqual(0, Bash($"restic() {{ echo '{snapshots}'; }}\nbackup_run 9f8e7d6c contoso").Code);
        Assert.NotEqual(0, Bash($"restic() {{ echo '{snapshots.Replace("part=db", "part=files")}'; }}\nbackup_run 9f8e7d6c northwind").Code);
    }

    [Fact]
    public void A_row_count_that_differs_from_the_manifest_fails_the_tenant_and_is_named()
    {
        RequireOnPath("jq");
        const string manifest = """{"database":{"tables":[{"schema":"public","name":"customers","rows":300},{"schema":"public","name":"invoices","rows":1000}]}}""";
        string Check(string invoices) => $$"""
            runuser() { shift 3; "$@"; }
            psql() { cat > /dev/null; case "$*" in *name=invoices*) {{invoices}};; *) echo 300;; esac; }
            echo '{{manifest}}' > "$TMPDIR/m.json"
            verify_rows northwind "$TMPDIR/m.json"
            """;
        Assert.Equal(0, Bash(Check("echo 1000")).Code);
        var oneShort = Bash(Check("echo 999"));
        Assert.NotEqual(0, oneShort.Code);
        Assert.Contains("northwind: table public.invoices has 999 rows, the backup had 1000", oneShort.Output);
        var missing = Bash(Check("return 1"));
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("table public.invoices is missing (1000 rows in the backup)", missing.Output);
    }

    [Fact]
    public void Restored_files_are_compared_with_the_manifest_s_digests()
    {
        RequireOnPath("jq");
        const string manifest = """{"files":{"count":1,"entries":[{"path":"uploads/logo.bin","size":6,"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}]}}""";
        string Check(string content) => $"""
            mkdir -p "$TMPDIR/files/uploads"; printf '{content}' > "$TMPDIR/files/uploads/logo.bin"
            echo '{manifest}' > "$TMPDIR/m.json"
            verify_files "$TMPDIR/files" "$TMPDIR/m.json"
            """;
        Assert.Equal(0, Bash(Check("hello\\n")).Code);
        var changed = Bash(Check("hellO\\n"));
        Assert.NotEqual(0, changed.Code);
        Assert.Contains("files differ from the backup", changed.Output);
    }

    [Fact]
    public void The_health_document_leaves_out_a_failed_tenant_and_is_not_ready()
    {
        var writer = HealthDocument.ShellWriter("standby-hel1", "standby-hel1-db-1", "health");
        var result = Bash($"restored=({Sh.Quote(HealthDocument.SnapshotMember("contoso", "1a2b3c4d"))})\n" +
                          $"failed=({Sh.Quote(HealthDocument.FailedEntry("northwind"))})\n{writer}cat health");
        Assert.Equal(0, result.Code);
        var expected = HealthDocument.Render("standby-hel1", "standby-hel1-db-1", new Dictionary<string, string> { ["contoso"] = "1a2b3c4d" }, ["northwind"]);
        Assert.Equal(expected, result.Output.Trim());
        Assert.Contains("\"status\":\"degraded\"", expected);
        Assert.DoesNotContain("\"northwind\":", expected);
    }

    [Fact]
    public void The_rendered_script_is_valid_bash()
    {
        var (plan, recipe) = Hel1();
        foreach (var server in plan.Servers)
        {
            var result = Run("bash", "-n", BootstrapScript.Render(ServerBootstrap.For(plan, server, recipe)));
            Assert.True(result.Code == 0, $"{server.Name}: {result.Output}");
        }
    }

    [Fact]
    public void The_rendered_script_passes_shellcheck_when_installed()
    {
        RequireOnPath("shellcheck");
        var result = Run("shellcheck", "-s bash -S warning", DataServerScript());
        Assert.True(result.Code == 0, result.Output);
    }

    [Fact]
    public void The_password_reaches_only_the_root_only_credentials_file()
    {
        var (plan, recipe) = Hel1();
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe);
        Assert.DoesNotContain(Password, BootstrapScript.Render(boot));
        var cloudConfig = CloudConfig.Render(boot, Credentials);
        var envFile = cloudConfig[cloudConfig.IndexOf("path: /etc/failover/restic.env", StringComparison.Ordinal)..];
        Assert.Contains("permissions: '0600'", envFile[..200]);
        Assert.Equal(cloudConfig.IndexOf(Password, StringComparison.Ordinal), cloudConfig.LastIndexOf(Password, StringComparison.Ordinal));
        Assert.True(cloudConfig.IndexOf(Password, StringComparison.Ordinal) > cloudConfig.IndexOf("path: /etc/failover/restic.env", StringComparison.Ordinal));
        Assert.DoesNotContain(Password, Credentials.ToString());
    }

    [Fact]
    public void A_restoring_server_cannot_be_rendered_without_credentials()
    {
        var (plan, recipe) = Hel1();
        Assert.Throws<ArgumentException>(() => CloudConfig.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe), null));
    }

    [Fact]
    public void Only_the_data_server_installs_postgresql_and_restores()
    {
        var (plan, recipe) = Hel1();
        var app = BootstrapScript.Render(ServerBootstrap.For(plan, plan.FrontServer!, recipe));
        Assert.DoesNotContain("postgresql", app);
        Assert.DoesNotContain("restic", app);
        Assert.Contains("postgresql restic", DataServerScript());
    }

    [Fact]
    public void The_application_unit_starts_after_the_restore()
    {
        var t = SiteStacks.With("standby-hel1", "  failover:service:\n    unit: acme-app.service\n");
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        var script = BootstrapScript.Render(new ServerBootstrap(plan.Stack.Name, "x", true, null, plan.Stack.Service, []));
        Assert.Contains("systemctl enable --now acme-app.service", script);
    }

    [Theory]
    [InlineData("plain-word_1.2", "plain-word_1.2")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("$HOME", "'$HOME'")]
    public void Shell_quoting_keeps_words_literal(string word, string quoted) => Assert.Equal(quoted, Sh.Quote(word));

    /// <summary>Runs bash with the recipe's functions defined, in a temp directory ($TMPDIR) deleted afterwards.</summary>
    private static (int Code, string Output) Bash(string body)
    {
        var dir = Directory.CreateTempSubdirectory("failover-recipe-").FullName;
        try
        {
            var script = $"set -uo pipefail\nTMPDIR={Sh.Quote(dir)}\ncd \"$TMPDIR\" || exit 1\nlog() {{ echo \"$*\"; }}\nfail() {{ echo \"$*\"; }}\n" +
                         RestoreRecipe.Functions.Render() + "\n" + body + "\n";
            return Run("bash", "", script);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>These checks run the real tool; ./test.sh installs it (Debian package of the same name).</summary>
    private static void RequireOnPath(string tool) =>
        Assert.True(OnPath(tool), $"{tool} is not installed: run ./test.sh as root (it installs it) or apt-get install {tool}");

    private static (int Code, string Output) Run(string tool, string options, string script)
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, script);
        try
        {
            var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var o in options.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(o);
            psi.ArgumentList.Add(file);
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        finally { File.Delete(file); }
    }
}
