using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Tests.Sites;

/// <summary>The control requests each server's daemon takes, and what the fence's stop installs for its root unit.</summary>
public class SiteControlTests
{
    private static readonly string Key = SiteUserData.PlaceholderControlKey;

    private static (Dictionary<string, string> Files, string Runcmd) Rendered(Topology.Topology t, string stack, string server, string? key = null)
    {
        var site = t.Find(stack)!;
        var plan = SitePlan.For(site);
        var recipe = RestoreRecipe.For(t, site, plan.DataServer!.Capacity.Vcpus);
        var backup = SiteUserData.AgentThatFits(plan, recipe, BackupPlan.OfSite(t, site));
        var boot = ServerBootstrap.For(plan, plan.Servers.Single(s => s.Name == server), recipe, backup);
        var reader = new ResticCredentials("s3:https://s3.eu-west-3.amazonaws.com/v/restic", "p", "k", "s");
        var config = CloudConfig.Render(boot, boot.Restore is null ? null : reader,
            boot.Backup is null ? null : SiteUserData.PlaceholderWriters(boot.Backup, reader.Repository), key ?? Key);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(config));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var files = ((YamlSequenceNode)root["write_files"]).Cast<YamlMappingNode>()
            .ToDictionary(f => ((YamlScalarNode)f["path"]).Value!, f => ((YamlScalarNode)f["content"]).Value!);
        return (files, string.Join("\n", ((YamlSequenceNode)root["runcmd"]).Select(n => string.Join(' ', ((YamlSequenceNode)n).Select(x => ((YamlScalarNode)x).Value)))));
    }

    private static Topology.Topology WithUnit() =>
        SiteStacks.With("prod-fsn1", "  failover:service:\n    ports: [443]\n    unit: shop.service\n", "failover:service");

    [Fact]
    public void An_application_server_takes_the_stop_only_and_its_unit_does_not_start_again_once_marked()
    {
        var (files, runcmd) = Rendered(WithUnit(), "prod-fsn1", "prod-fsn1-app-1");
        Assert.Contains("ACTIONS = {\"stop-application\": (1024, check_stop, stop)}", files[ServerBootstrap.HealthHandlerPath]);
        Assert.Equal(Key, files[BackupControl.KeyFile].Trim());
        Assert.Contains($"LoadCredential={BackupControl.Credential}:{BackupControl.KeyFile}", files[$"/etc/systemd/system/{ServerBootstrap.HealthUnit}"]);
        var script = files[ApplicationStop.ScriptPath];
        Assert.Contains($"touch {ApplicationStop.Marker}", script);
        Assert.Contains("systemctl stop shop.service", script);
        Assert.DoesNotContain(BackupAgent.Timer, script);
        Assert.DoesNotContain("postgresql", script);
        Assert.Equal($"[Unit]\nConditionPathExists=!{ApplicationStop.Marker}", files[ApplicationStop.DropInPath("shop.service")].Trim());
        // The root unit every control request goes through, taking requests before the bootstrap runs.
        Assert.Contains($"/etc/systemd/system/{BackupControl.ActUnit}", files.Keys);
        Assert.Contains($"systemctl enable --now {BackupControl.PathUnit}", runcmd);
        Assert.DoesNotContain(BackupAgent.ScriptPath, string.Join("", files.Keys));
    }

    [Fact]
    public void The_data_server_takes_the_agent_s_start_and_the_stop_which_also_stops_the_agent_and_closes_postgresql_to_the_network()
    {
        var (files, _) = Rendered(WithUnit(), "prod-fsn1", "prod-fsn1-db-1");
        Assert.Contains("\"start-backups\": (262144, check_start, start)", files[ServerBootstrap.HealthHandlerPath]);
        Assert.Contains("\"stop-application\": (1024, check_stop, stop)", files[ServerBootstrap.HealthHandlerPath]);
        var script = files[ApplicationStop.ScriptPath];
        Assert.Contains($"systemctl disable --now -q {BackupAgent.Timer}; systemctl stop {BackupAgent.Service}", script);
        Assert.Contains($"echo \"listen_addresses='localhost'\" > $c/conf.d/{ApplicationStop.PostgresConf}", script);
        Assert.Contains("systemctl restart postgresql", script);
        // Its last line is the outcome the daemon answers with.
        Assert.EndsWith("echo $d; exit $r", script.TrimEnd());
    }

    /// <summary>Each server's handler holds the functions of exactly the actions it takes, and loads: its root mode runs an empty queue.</summary>
    [Theory]
    [InlineData("prod-fsn1-app-1", "stop-application")]
    [InlineData("prod-fsn1-db-1", "file-report,start-backups,stop-application")]
    public void Each_server_s_handler_has_the_functions_of_its_actions_and_runs(string server, string expected)
    {
        var (files, _) = Rendered(WithUnit(), "prod-fsn1", server);
        var handler = files[ServerBootstrap.HealthHandlerPath];
        Assert.Equal(expected, string.Join(',', BackupControl.Actions.Keys.Where(a => handler.Contains($"\"{a}\": ("))));
        Assert.Equal(expected.Contains("start-backups"), handler.Contains("def start(req)"));
        Assert.Contains("def stop(req)", handler);
        Assert.DoesNotContain("def restore_point(req)", handler);
        var dir = Directory.CreateTempSubdirectory("failover-handler-").FullName;
        File.WriteAllText(Path.Combine(dir, "health.py"), handler);
        var act = $"cd {Sh.Quote(dir)} && {BackupControl.ActVariable}=1 STATE_DIRECTORY={Sh.Quote(dir)} python3 health.py 0 / /dev/null && echo ran";
        var (code, output) = UserDataTests.Run("bash", "", act);
        Assert.True(code == 0 && output.Trim() == "ran", output);
    }

    [Fact]
    public void The_stop_script_passes_shellcheck()
    {
        UserDataTests.RequireOnPath("shellcheck");
        var (files, _) = Rendered(WithUnit(), "prod-fsn1", "prod-fsn1-db-1");
        var (code, output) = UserDataTests.Run("shellcheck", "-s sh -S warning", files[ApplicationStop.ScriptPath]);
        Assert.True(code == 0, output);
    }

    [Fact]
    public void A_rehearsal_copy_gets_no_key_and_a_server_rendered_without_one_takes_no_request()
    {
        Assert.False(SiteControl.HasKey(SiteStacks.Load().Production with { Role = Role.Rehearsal }));
        Assert.True(SiteControl.HasKey(SiteStacks.Load().Find("standby-hel1")!));
        var plan = SitePlan.For(SiteStacks.Load().Production);
        var boot = ServerBootstrap.For(plan, plan.Servers.First(s => !s.HoldsData), null);
        Assert.Empty(SiteControl.ActionsOf(boot, keyed: false));
        var config = CloudConfig.Render(boot, null);
        Assert.DoesNotContain("do_POST", config);
        Assert.DoesNotContain(ApplicationStop.ScriptPath, config);
    }

    [Fact]
    public void An_aws_data_server_restoring_a_thousand_tenants_takes_the_stop_its_restore_point_going_by_request()
    {
        var t = CloudInitTests.FailedOverWith(1000, "standby-aws-fra");
        var site = t.Find("standby-aws-fra")!;
        var plan = SitePlan.For(site);
        var recipe = RestoreRecipe.For(t, site, plan.DataServer!.Capacity.Vcpus);
        var data = ServerBootstrap.For(plan, plan.DataServer, recipe, null);
        Assert.True(data.TakesStop);
        Assert.True(data.RestorePointByRequest);
        Assert.All(plan.Servers.Where(s => !s.HoldsData), s => Assert.True(ServerBootstrap.For(plan, s, recipe, null).TakesStop));
        // And every server still fits its limit, as the failover sends it.
        Assert.All(SiteUserData.Planned(t, site), u => Assert.True(u.Fits, u.Figure));
        // With a few tenants the records stay in the user data.
        var small = SiteStacks.FailedOverToHel1();
        var hel1 = SitePlan.For(small.Find("standby-hel1")!);
        var few = ServerBootstrap.For(hel1, hel1.DataServer!, RestoreRecipe.For(small, hel1.Stack, hel1.DataServer!.Capacity.Vcpus), null);
        Assert.True(few.TakesStop);
        Assert.False(few.RestorePointByRequest);
    }
}
