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
        Assert.Equal(4, recipe.PgRestoreJobs); // the MVD db server is a cpx31 with 4 vCPUs
    }

    [Fact]
    public void Each_tenant_is_streamed_from_restic_into_pg_restore_then_files_then_verified()
    {
        var (_, recipe) = Hel1();
        var northwind = recipe.Tenants.Single(t => t.Tenant.Name == "northwind");
        Assert.Equal([RestoreStepKind.CreateDatabase, RestoreStepKind.FetchDump, RestoreStepKind.RestoreDatabase, RestoreStepKind.RemoveDump,
            RestoreStepKind.RestoreFiles, RestoreStepKind.VerifyDatabase, RestoreStepKind.VerifyFiles], northwind.Steps.Select(s => s.Kind));
        var dump = northwind.Steps.Single(s => s.Kind == RestoreStepKind.FetchDump).Command;
        Assert.Equal(["restic", "--no-lock", "dump", SiteStacks.Snapshot("northwind"), BackupLayout.DumpPath("northwind")], dump.Argv);
        var load = northwind.Steps.Single(s => s.Kind == RestoreStepKind.RestoreDatabase).Command;
        Assert.Contains("--jobs=4", load.Argv);
        Assert.Equal(dump.StdoutTo, load.Argv[^1]);
        Assert.Equal("postgres", load.RunAs);
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
        if (!OnPath("shellcheck")) return; // bash -n above still holds; CI installs shellcheck
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

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

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
