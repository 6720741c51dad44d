using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Tests.Sites;

/// <summary>The backup agent as a data server's cloud-init installs it: script, configuration, units, credentials, size.</summary>
public class BackupAgentTests(ITestOutputHelper output)
{
    private static readonly ResticCredentials Reader = new(
        "s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic", "Zq9PasswordThatMustNeverAppearInTheScript01234567",
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

    private static Dictionary<string, string> Files(string cloudConfig)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(cloudConfig));
        var files = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["write_files"];
        return files.Cast<YamlMappingNode>().ToDictionary(f => ((YamlScalarNode)f["path"]).Value!, f => ((YamlScalarNode)f["content"]).Value!);
    }

    private static (string Config, ServerBootstrap Boot) DataServer(Topology.Topology t, string stack)
    {
        var site = t.Find(stack)!;
        var plan = SitePlan.For(site);
        var recipe = RestoreRecipe.For(t, site, plan.DataServer!.Capacity.Vcpus);
        var backup = BackupPlan.OfSite(t, site);
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe, backup);
        var writers = backup is null ? null : SiteUserData.PlaceholderWriters(backup, Reader.Repository);
        return (CloudConfig.Render(boot, recipe is null ? null : Reader, writers, backup is null ? null : SiteUserData.PlaceholderControlKey), boot);
    }

    /// <summary>
    /// Every site kind at a thousand tenants boots able to take the signed start and stop requests: production carries its
    /// agent, a restoring standby the control parts (the key, the vaults' write credentials, the daemon's actions) and gets
    /// the agent with the start request. The AWS standby's restore point goes by request (its records alone are some 7 KB
    /// of gzip), Hetzner's 32 KiB keep them inline. Each leaves <paramref name="headroom"/> bytes (figures in the output).
    /// </summary>
    [Theory]
    [InlineData("prod-fsn1", Provider.Hetzner, 8192, false)]
    [InlineData("prod-fsn1", Provider.Aws, SiteUserData.Margin, false)]
    [InlineData("standby-hel1", Provider.Hetzner, 4096, false)]
    [InlineData("standby-aws-fra", Provider.Aws, 4096, true)]
    public void Every_site_kind_at_a_thousand_tenants_boots_able_to_take_the_signed_start_and_stop_within_its_provider_s_limit(string stack, Provider provider, int headroom, bool byRequest)
    {
        var t = CloudInitTests.FailedOverWith(1000, "standby-hel1" == stack ? "standby-hel1" : "standby-aws-fra");
        var site = t.Find(stack)! is { Mode: SiteMode.Cold } cold ? cold with { Mode = SiteMode.Mvd } : t.Find(stack)!;
        var plan = SitePlan.For(site);
        var backup = BackupPlan.OfSite(t, site)!;
        var recipe = RestoreRecipe.For(t, site, plan.DataServer!.Capacity.Vcpus);
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe, backup);
        Assert.Same(backup, SiteUserData.AgentThatFits(plan, recipe, backup));
        Assert.Equal(byRequest, boot.RestorePointByRequest);
        var actions = SiteControl.ActionsOf(boot, keyed: true);
        Assert.Contains(BackupControl.StartBackups, actions);
        Assert.Contains(ApplicationStop.Action, actions);
        Assert.Equal(byRequest, actions.Contains(BackupControl.RestorePoint));
        // Throws UserDataTooLargeException over the limit.
        var all = SiteUserData.For(plan, recipe, Reader, false, backup, SiteUserData.PlaceholderWriters(backup, Reader.Repository), SiteUserData.PlaceholderControlKey);
        var data = all.Single(s => s.Server == plan.DataServer!.Name);
        // Production's document as the other provider counts it: on AWS (16 KB of gzip) it would carry all of it too.
        var other = ServerUserData.Measure(data.Server, ServerUserData.Decode(data.Base64Gzip), provider);
        output.WriteLine($"{stack}, 1000 tenants{(recipe is null ? "" : byRequest ? " and their restore point by request" : " and their restore point")}: " +
                         $"{data.Server} user data {data.Bytes} bytes ({data.Figure}, {data.Limit.Counted}); as {provider} counts it: {other.Bytes} of {other.Limit.Bytes}, {other.Limit.Bytes - other.Bytes} bytes of headroom");
        Assert.True(other.Bytes <= other.Limit.Bytes - headroom, $"{other.Bytes} bytes leave less than {headroom} of {other.Limit.Bytes}");
        var files = Files(ServerUserData.Decode(data.Base64Gzip));
        Assert.Contains(BackupPlan.CredentialsFileOf("vault-aws-par"), files.Keys);
        Assert.Contains(BackupControl.KeyFile, files.Keys);
        Assert.Contains(ApplicationStop.ScriptPath, files.Keys);
        Assert.Contains($"\"{BackupControl.StartBackups}\": ", files[ServerBootstrap.HealthHandlerPath]);
        Assert.Contains($"\"{ApplicationStop.Action}\": ", files[ServerBootstrap.HealthHandlerPath]);
        if (recipe is null)
        {
            // Production names its tenants and runs the very files the start request would carry.
            var agent = AgentFiles.Of(backup);
            Assert.Equal(agent.Script, files[BackupAgent.ScriptPath]);
            Assert.Equal(agent.Config.TrimEnd('\n'), files[BackupAgent.ConfigPath].TrimEnd('\n'));
            var count = UserDataTests.Run("bash", "", files[BackupAgent.ConfigPath] + "\necho ${#TENANTS[@]} ${#VAULT_NAMES[@]}");
            Assert.Equal("1000 1", count.Output.Trim());
        }
        else
        {
            // A standby's agent comes with the start request; its tenants are the ones its restore named.
            Assert.DoesNotContain(BackupAgent.ScriptPath, files.Keys);
            var sent = AgentFiles.Of(BackupPlan.OfRestoredSite(t, site with { Snapshots = [] })!);
            var count = UserDataTests.Run("bash", "", sent.Config + "\necho ${#TENANTS[@]} ${#VAULT_NAMES[@]} $TENANTS_FROM");
            Assert.Equal($"0 1 {ServerBootstrap.StateDirectory}", count.Output.Trim());
            Assert.True(BackupControl.StartBody(site.Name, DateTimeOffset.UnixEpoch, "n", sent).Length <= BackupControl.Actions[BackupControl.StartBackups]);
            // And the plan of a failover to it has no warning that its agent must be installed by hand.
            Assert.DoesNotContain(Planning.Planner.Plan(t, t.Find(stack)! with { Snapshots = [] }).Findings, f => f.PolicyId == "backup-agent-does-not-fit");
        }
        // The app servers back nothing up, and take the stop.
        Assert.All(all.Where(s => s != data), s => Assert.DoesNotContain(BackupAgent.ScriptPath, Files(ServerUserData.Decode(s.Base64Gzip)).Keys));
        Assert.All(all.Where(s => s != data), s => Assert.Contains(ApplicationStop.ScriptPath, Files(ServerUserData.Decode(s.Base64Gzip)).Keys));
    }

    /// <summary>
    /// The AWS standby of a thousand tenants restores exactly the chosen snapshots: its user data carries only the SHA-256 of
    /// the records (in the script and the daemon), the restore-point request carries the records the user data would have,
    /// and those load, with the script's own functions, into the chosen snapshot ids in restore order; any other restore
    /// point hashes to something else. While it waits, its health document says so.
    /// </summary>
    [Fact]
    public void An_aws_standby_of_a_thousand_tenants_gets_its_restore_point_by_a_signed_request_pinned_in_its_user_data()
    {
        var t = CloudInitTests.FailedOverWith(1000, "standby-aws-fra");
        var site = t.Find("standby-aws-fra")!;
        var plan = SitePlan.For(site);
        var recipe = RestoreRecipe.For(t, site, plan.DataServer!.Capacity.Vcpus)!;
        var backup = BackupPlan.OfSite(t, site)!;
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe, backup);
        Assert.True(boot.RestorePointByRequest);
        var files = Files(CloudConfig.Render(boot, Reader, SiteUserData.PlaceholderWriters(backup, Reader.Repository), SiteUserData.PlaceholderControlKey));
        var script = files[ServerBootstrap.ScriptPath];
        Assert.DoesNotContain("\nrestore_point ", script);
        Assert.Contains($"= {recipe.RestorePointSha256} ]", script);
        Assert.Contains($". {RestoreRecipe.RestorePointFile}", script);
        Assert.Contains(HealthDocument.Waiting, script);
        Assert.Contains($"\"{BackupControl.RestorePoint}\": ", files[ServerBootstrap.HealthHandlerPath]);
        Assert.Contains(recipe.RestorePointSha256, files[ServerBootstrap.HealthHandlerPath]);
        Assert.Equal(0, UserDataTests.Run("bash", "-n", script).Code);

        var body = BackupControl.RestorePointBody(site.Name, DateTimeOffset.UnixEpoch, "n", recipe);
        using var request = System.Text.Json.JsonDocument.Parse(body);
        var records = request.RootElement.GetProperty("records").GetString()!;
        Assert.Equal(recipe.RestorePointSha256, request.RootElement.GetProperty("sha256").GetString());
        var loaded = UserDataTests.Bash(records + "\nfor i in \"${!ids[@]}\"; do echo \"${ids[$i]} ${checks[$i]} ${pres[$i]}:${posts[$i]}\"; done");
        Assert.Equal(0, loaded.Code);
        Assert.Equal(recipe.Tenants.Select(x => $"{x.SnapshotKey} {x.NameCheck} {(x.PreHooks.Count > 0 ? string.Join(',', x.PreHooks) : "-")}:{(x.PostHooks.Count > 0 ? string.Join(',', x.PostHooks) : "-")}"),
            loaded.Output.Trim().Split('\n'));
        Assert.Equal(site.Snapshots.Select(x => RestoreRecipe.KeyOf(x.SnapshotId)).Order(), recipe.Tenants.Select(x => x.SnapshotKey).Order());
        // One tenant restored from another snapshot is another restore point: the pin refuses it.
        var other = RestoreRecipe.For(t, site with { Snapshots = [site.Snapshots[0] with { SnapshotId = SiteUserData.PlaceholderId("older") }, .. site.Snapshots.Skip(1)] }, plan.DataServer!.Capacity.Vcpus)!;
        Assert.NotEqual(recipe.RestorePointSha256, other.RestorePointSha256);
        using var waiting = System.Text.Json.JsonDocument.Parse(HealthDocument.RenderWaiting(site.Name, boot.Server, recipe.RestorePointSha256));
        Assert.Equal(HealthDocument.Waiting, waiting.RootElement.GetProperty("status").GetString());
        // What the operator reads while it waits: the restore point it waits for, by the hash its user data pins.
        Assert.StartsWith($"the restore point (sha256 {recipe.RestorePointSha256})", waiting.RootElement.GetProperty(HealthDocument.Waiting).GetString());
    }

    /// <summary>What still cannot fit keeps its warning: a standby whose other parts (here 85 SSH keys) leave no room for the control parts.</summary>
    [Fact]
    public void A_standby_whose_user_data_has_no_room_for_the_control_parts_boots_without_the_agent_and_the_plan_says_so()
    {
        var keys = string.Concat(Enumerable.Range(0, 85).Select(i => $"      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{Convert.ToBase64String(System.Security.Cryptography.SHA512.HashData(BitConverter.GetBytes(i)))} key{i}\n"));
        var t = SiteStacks.With("standby-aws-fra", "  failover:access:\n    adminCidrs: [203.0.113.0/24]\n    sshPublicKeys:\n" + keys, "failover:access");
        var site = t.Find("standby-aws-fra")!;
        var runbook = Planning.Planner.Plan(t, site);
        Assert.All(runbook.UserData, u => Assert.True(u.Fits, u.Figure));
        var finding = Assert.Single(runbook.Findings, f => f.PolicyId == "backup-agent-does-not-fit");
        Assert.Contains("no room for the backup agent", finding.Message);
        Assert.Contains("fewer SSH keys", finding.Fix);
        // A standby of ten tenants has room for the control parts: no warning.
        var shipped = SiteStacks.Load();
        Assert.DoesNotContain(Planning.Planner.Plan(shipped, shipped.Find("standby-aws-fra")!).Findings, f => f.PolicyId == "backup-agent-does-not-fit");
    }

    [Fact]
    public void Production_schedules_the_agent_at_boot_a_standby_installs_it_waiting_and_a_rehearsal_copy_gets_none()
    {
        var t = SiteStacks.FailedOverToHel1();
        var (prod, prodBoot) = DataServer(t, "prod-fsn1");
        var (standby, standbyBoot) = DataServer(t, "standby-hel1");
        Assert.True(prodBoot.BackupAtBoot);
        Assert.Contains($"systemctl enable --now {BackupAgent.Timer}", Files(prod)[ServerBootstrap.ScriptPath]);
        Assert.False(standbyBoot.BackupAtBoot);
        Assert.DoesNotContain($"enable --now {BackupAgent.Timer}", Files(standby)[ServerBootstrap.ScriptPath]);
        // Not installed: the start request after a cutover carries it (and the standby's user data has its restore to carry).
        Assert.DoesNotContain(BackupAgent.ScriptPath, Files(standby).Keys);
        Assert.Contains(BackupAgent.ScriptPath, Files(prod).Keys);

        var rehearsal = t.Find("standby-hel1")! with { Role = Role.Rehearsal, Name = "standby-hel1-rehearsal" };
        Assert.Null(BackupPlan.OfSite(t, rehearsal));
        Assert.Null(BackupPlan.OfSite(t, t.Find("vault-aws-par")!));
    }

    [Fact]
    public void The_agent_pushes_into_every_vault_with_that_vault_s_write_credentials_and_never_the_restore_s()
    {
        var t = SiteStacks.FailedOverToHel1();
        var (document, boot) = DataServer(t, "prod-fsn1");
        var files = Files(document);
        var writer = SiteUserData.PlaceholderWriters(boot.Backup!, Reader.Repository).Single();
        Assert.Equal(CloudConfig.EnvironmentFile(writer.Credentials), files[BackupPlan.CredentialsFileOf("vault-aws-par")]);
        Assert.DoesNotContain(writer.Credentials.SecretAccessKey, files[BackupAgent.ScriptPath]);
        Assert.DoesNotContain(writer.Credentials.SecretAccessKey, files[BackupAgent.ConfigPath]);

        var noWriters = Assert.Throws<ArgumentException>(() => CloudConfig.Render(boot, null));
        Assert.Contains("backs up into vault-aws-par and needs its write credentials", noWriters.Message);
    }

    [Fact]
    public void A_data_server_with_an_agent_takes_the_signed_start_request_and_a_rehearsal_copy_or_an_app_server_has_no_key()
    {
        var t = SiteStacks.FailedOverToHel1();
        var (standby, _) = DataServer(t, "standby-hel1");
        var files = Files(standby);
        Assert.Equal(SiteUserData.PlaceholderControlKey, files[BackupControl.KeyFile].Trim());
        var unit = files[$"/etc/systemd/system/{ServerBootstrap.HealthUnit}"];
        // The daemon runs unprivileged: systemd hands it the root-only key and a state directory; a root path unit acts.
        Assert.Contains("DynamicUser=yes", unit);
        Assert.Contains($"LoadCredential={BackupControl.Credential}:{BackupControl.KeyFile}", unit);
        Assert.Contains($"StateDirectory={BackupControl.StateDirectory}", unit);
        Assert.Contains($"DirectoryNotEmpty={BackupControl.QueuePath}", files[$"/etc/systemd/system/{BackupControl.PathUnit}"]);
        // The root unit reads the key itself: it checks every request again before it acts.
        Assert.Contains($"LoadCredential={BackupControl.Credential}:{BackupControl.KeyFile}", files[$"/etc/systemd/system/{BackupControl.ActUnit}"]);
        // Enabled once, by runcmd before the bootstrap, as on every server that takes a request.
        Assert.Contains($"- [systemctl, enable, --now, {BackupControl.PathUnit}]", standby);
        Assert.DoesNotContain(BackupControl.PathUnit, files[ServerBootstrap.ScriptPath]);
        Assert.Contains("def do_POST", files[ServerBootstrap.HealthHandlerPath]);
        Assert.DoesNotContain(SiteUserData.PlaceholderControlKey, files[ServerBootstrap.ScriptPath] + unit + files[ServerBootstrap.HealthHandlerPath]);
        var missing = Assert.Throws<ArgumentException>(() => CloudConfig.Render(ServerBootstrap.For(SitePlan.For(t.Find("standby-hel1")!), SitePlan.For(t.Find("standby-hel1")!).DataServer!,
            RestoreRecipe.For(t, t.Find("standby-hel1")!, 2), BackupPlan.OfSite(t, t.Find("standby-hel1")!)), Reader,
            SiteUserData.PlaceholderWriters(BackupPlan.OfSite(t, t.Find("standby-hel1")!)!, Reader.Repository)));
        Assert.Contains("needs the site's control key", missing.Message);

        // A rehearsal copy has no agent, so no key, no LoadCredential, no POST handler: every request is refused.
        var rehearsal = t.Find("standby-hel1")! with { Role = Role.Rehearsal, Name = "standby-hel1-rehearsal" };
        var plan = SitePlan.For(rehearsal);
        var copy = Files(CloudConfig.Render(ServerBootstrap.For(plan, plan.DataServer!, RestoreRecipe.For(t, rehearsal, 2), BackupPlan.OfSite(t, rehearsal)), Reader));
        Assert.DoesNotContain(BackupControl.KeyFile, copy.Keys);
        Assert.DoesNotContain("LoadCredential", copy[$"/etc/systemd/system/{ServerBootstrap.HealthUnit}"]);
        Assert.DoesNotContain("do_POST", copy[ServerBootstrap.HealthHandlerPath]);
    }

    [Fact]
    public void Both_health_daemons_are_python_and_the_signature_is_hmac_sha256_of_the_body()
    {
        UserDataTests.RequireOnPath("python3");
        foreach (var control in new[] { false, true })
        {
            var file = Path.Combine(Path.GetTempPath(), $"failover-health-{Guid.NewGuid():N}.py");
            File.WriteAllText(file, BootstrapScript.Handler(control));
            try { Assert.Equal(0, UserDataTests.Run("python3", "", $"import ast; ast.parse(open('{file}').read())").Code); }
            finally { File.Delete(file); }
        }
        // RFC 4231, test case 2.
        Assert.Equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", BackupControl.Sign("Jefe", "what do ya want for nothing?"));
        Assert.Equal("""{"action":"start-backups","nonce":"ab","site":"s","timestamp":1700000000}""",
            BackupControl.Body(BackupControl.StartBackups, "s", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), "ab"));
        Assert.Throws<ArgumentException>(() => BackupControl.CheckedKey("short", "s"));
        Assert.Throws<ArgumentException>(() => BackupControl.CheckedKey(new string('a', 40) + "'; reboot", "s"));
    }

    [Fact]
    public void The_timer_runs_on_the_schedule_and_never_stacks_runs()
    {
        var t = SiteStacks.Load();
        var plan = BackupPlan.For(t, t.Production);
        Assert.Equal(TimeSpan.FromMinutes(30), plan.Interval); // failover:backup.schedule of prod-fsn1
        var timer = BackupAgent.TimerUnit(plan.Interval);
        Assert.Contains("OnUnitActiveSec=1800s", timer);
        Assert.Contains("AccuracySec=1s", timer); // on time, not up to the accuracy late (systemd's default is a minute)
        Assert.Contains($"Unit={BackupAgent.Service}", timer);
        var service = BackupAgent.ServiceUnit();
        Assert.Contains("Type=oneshot", service); // a oneshot still running is not started again
        Assert.Contains($"SuccessExitStatus={BackupPlan.RefusedExitCode}", service);
        Assert.Contains("flock -n 9", BackupAgent.Script());
    }

    [Fact]
    public void The_script_is_bash_and_its_configuration_reads_back_every_name_as_written()
    {
        UserDataTests.RequireOnPath("bash");
        Assert.Equal(0, UserDataTests.Run("bash", "-n", BackupAgent.Script()).Code);
        var plan = new BackupPlan("site 'one'", ["acme", "o'brien", "déjà vu", "$(reboot)"], [new BackupTarget("vault a", "/etc/failover/vaults/vault a.env")], TimeSpan.FromMinutes(15))
        {
            PostgresUser = null,
        };
        var config = BackupAgent.RenderConfig(plan);
        Assert.All(config, c => Assert.True(c is '\n' or (>= ' ' and <= '~'), $"U+{(int)c:X4} in the configuration"));
        var read = UserDataTests.Run("bash", "", config + "\nprintf '%s|' \"$SITE\" \"${TENANTS[@]}\" \"${VAULT_NAMES[@]}\" \"${VAULT_FILES[@]}\" \"$PG_AS\"");
        Assert.Equal("site 'one'|acme|o'brien|déjà vu|$(reboot)|vault a|/etc/failover/vaults/vault a.env||", read.Output);
    }

    [Fact]
    public void The_psql_checksum_passes_use_the_same_queries_as_the_csharp_backup()
    {
        var passes = TableChecksumPasses.Psql();
        // The generated statements are the row-hash and the text-hash queries, table spliced in by format('%I.%I').
        Assert.Contains(TableChecksums.Hashed("%s").Replace("'", "''"), passes);
        Assert.Contains(TableChecksums.AsText("%s").Replace("'", "''"), passes);
        Assert.Equal(2, passes.Split("\\gexec").Length - 1);
    }

    [Fact]
    public void A_heartbeat_older_than_two_intervals_or_naming_a_failure_is_an_alarm_and_none_is_a_warning()
    {
        var now = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var interval = TimeSpan.FromMinutes(30);
        BackupHeartbeat At(TimeSpan ago, params BackupFailure[] failures) =>
            new("prod-fsn1", "vault-aws-par", "20261201T1100Z-abcdef", now - ago - TimeSpan.FromMinutes(5), now - ago, 10, failures.Length == 0 ? 10 : 9, 123, failures);

        Assert.Equal(Policies.Severity.Info, HeartbeatVerdict.Of(At(TimeSpan.FromMinutes(40)), "vault-aws-par", "prod-fsn1", interval, now).Severity);
        var stale = HeartbeatVerdict.Of(At(TimeSpan.FromMinutes(61)), "vault-aws-par", "prod-fsn1", interval, now);
        Assert.Equal(Policies.Severity.Error, stale.Severity);
        Assert.Contains("STALE, older than the schedule allows (1h", stale.Message);
        var failed = HeartbeatVerdict.Of(At(TimeSpan.FromMinutes(1), new BackupFailure(null, "acme", "database acme does not exist"), new BackupFailure("vault-b", null, "cannot open the vault")),
            "vault-aws-par", "prod-fsn1", interval, now);
        Assert.Equal(Policies.Severity.Error, failed.Severity);
        Assert.Contains("9 of 10 tenants", failed.Message);
        Assert.Contains("FAILED for acme: database acme does not exist; vault vault-b: cannot open the vault", failed.Message);
        var none = HeartbeatVerdict.Of(null, "vault-aws-par", "prod-fsn1", interval, now);
        Assert.Equal(Policies.Severity.Warning, none.Severity);
    }

    [Fact]
    public void A_cloud_production_whose_agent_cannot_write_a_vault_is_named_by_policy()
    {
        var t = SiteStacks.Load();
        Assert.DoesNotContain(Policies.PolicyBook.Evaluate(t), f => f.PolicyId == "backup-agent-not-configured");
        var box = t.Stacks.First(s => s.Role == Role.Vault) with { Name = "box-hel1", Vault = t.Stacks.First(s => s.Role == Role.Vault).Vault! with { Kind = VaultKind.StorageBox } };
        var prod = t.Production with { Backup = t.Production.Backup! with { Vaults = [.. t.Production.Backup!.Vaults, "box-hel1"] } };
        var withBox = new Topology.Topology([.. t.Stacks.Select(s => s.Name == prod.Name ? prod : s), box], t.ProjectBackendUrl, t.StacksDirectory);
        var finding = Assert.Single(Policies.PolicyBook.Evaluate(withBox), f => f.PolicyId == "backup-agent-not-configured");
        Assert.Contains("cannot write vault box-hel1", finding.Message);
    }
}
