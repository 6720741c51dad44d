using Failover.Driver.Emulation;
using Failover.Driver.Pulumi;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>
/// The pulumi emulator refuses what the real providers refuse, before any server boots: the shipped stack files in
/// the stand-in's project, FAILOVER_EMULATION_DIR set, and the driver's own CLI adapter reading the failure.
/// </summary>
public sealed class EmulatedProviderTests : IDisposable
{
    private readonly StandIn _pulumi = new();
    private string Emulation => Path.Combine(_pulumi.ProjectDirectory, "emulation");

    public EmulatedProviderTests()
    {
        var stacks = Directory.CreateDirectory(Path.Combine(_pulumi.ProjectDirectory, "infra", "stacks")).FullName;
        File.WriteAllText(Path.Combine(_pulumi.ProjectDirectory, "Pulumi.yaml"), "name: failover\nruntime: dotnet\nmain: infra/\nstackConfigDir: infra/stacks\n");
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "infra", "stacks"))) File.Copy(f, Path.Combine(stacks, Path.GetFileName(f)));
    }

    private PulumiCli Cli()
    {
        var options = _pulumi.Options();
        // A block of its own: the booted world (CloudDrillTests, 198.18.15.0) runs beside these tests, and a server's network
        // is named by its block and index (a second emulation on the same block would remove the world's namespaces).
        var env = new Dictionary<string, string>(options.Environment) { [EmulatedCloud.DirectoryVariable] = Emulation, [EmulatedCloud.BlockVariable] = "198.18.16.0" };
        return _pulumi.Cli(options with { Environment = env });
    }

    private void Rewrite(string stack, string from, string to)
    {
        var file = Path.Combine(_pulumi.ProjectDirectory, "infra", "stacks", $"Pulumi.{stack}.yaml");
        var text = File.ReadAllText(file);
        Assert.Contains(from, text);
        File.WriteAllText(file, text.Replace(from, to));
    }

    /// <summary>standby-hel1 set to mvd as `failover run` sets it, restoring <paramref name="tenants"/>; the failure of its `up`.</summary>
    private async Task<PulumiCommandException> FailedUpAsync(params string[] tenants)
    {
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        await cli.SetConfigAsync("standby-hel1", "failover:mode", ConfigValue.Plain("mvd"));
        foreach (var tenant in tenants)
            await cli.SetConfigAsync("standby-hel1", $"failover:snapshots.{tenant}", ConfigValue.Plain("4f2a9c1e"), path: true);
        var e = await Assert.ThrowsAsync<PulumiCommandException>(() => cli.UpAsync("standby-hel1"));
        Assert.Empty(EmulatedCloud.Read(Emulation).Servers);
        return e;
    }

    [Fact]
    public async Task Config_answers_the_stack_file_with_what_config_set_stored_over_it_as_the_real_cli_does()
    {
        // A rehearsal copies the standby's config from `pulumi config`: the real CLI answers its stack file.
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        await cli.SetConfigAsync("standby-hel1", "failover:mode", ConfigValue.Plain("mvd"));
        await cli.SetConfigAsync("standby-hel1", "failover:site.datacenter", ConfigValue.Plain("hel1-dc3"), path: true);
        var config = (await cli.GetAllConfigAsync("standby-hel1")).ToDictionary(l => l.Path);
        Assert.Equal("mvd", config["failover:mode"].Value);
        Assert.Equal(("hetzner", "hel1", "hel1-dc3"),
            (config["failover:site.provider"].Value, config["failover:site.location"].Value, config["failover:site.datacenter"].Value));
        Assert.Equal(("app", "cpx22", "1"), (config["failover:servers[1].name"].Value, config["failover:servers[1].mvd.type"].Value, config["failover:servers[1].mvd.count"].Value));
        Assert.True(config["hcloud:token"].Secret);
        Assert.Equal("hel1", (await cli.GetConfigAsync("standby-hel1", "failover:site.location", path: true))?.Value);
    }

    [Fact]
    public async Task Config_set_lands_in_the_stack_file_as_the_real_cli_keeps_it_so_the_next_command_finds_the_checkout_current()
    {
        // Found by the booted world: after its failover, `migrate` was refused as run from a stale checkout, because the
        // emulator kept `config set` to itself where the real CLI writes the stack file of the machine that ran it.
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        await cli.SetConfigAsync("standby-hel1", "failover:mode", ConfigValue.Plain("mvd"));
        var stacks = Path.Combine(_pulumi.ProjectDirectory, "infra", "stacks");
        // As `failover run` sets them: every tenant's snapshot id, one --path key each.
        var ids = Core.Topology.TopologyLoader.Load(stacks).Tenants.Select((t, i) => (t.Name, Id: $"{i:x2}4f2a9c1e")).ToDictionary(p => p.Name, p => p.Id);
        foreach (var (tenant, id) in ids)
            await cli.SetConfigAsync("standby-hel1", $"failover:snapshots.{tenant}", ConfigValue.Plain(id), path: true);

        var topology = Core.Topology.TopologyLoader.Load(stacks);
        var standby = topology.Find("standby-hel1")!;
        Assert.Equal(Core.Topology.SiteMode.Mvd, standby.Mode);
        Assert.Equal(ids.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"), standby.Snapshots.Select(s => $"{s.Tenant} {s.SnapshotId}").Order());
        var deployed = new Core.Topology.DeployedStack("standby-hel1", "mvd", ids, null);
        Assert.Empty(Core.Topology.StaleCheckout.Compare(topology, [deployed]));
        // Set again, the key's block is replaced, not repeated; the rest of the file stays as the operator wrote it.
        await cli.SetConfigAsync("standby-hel1", "failover:mode", ConfigValue.Plain("full"));
        var text = File.ReadAllText(Path.Combine(stacks, "Pulumi.standby-hel1.yaml"));
        Assert.Single(text.Split('\n'), l => l.TrimStart().StartsWith("failover:mode:", StringComparison.Ordinal));
        Assert.Contains("  failover:mode: full\n", text);
        Assert.Contains("    contoso: 014f2a9c1e\n", text);
        Assert.Contains("# Cold standby: Hetzner Helsinki", text);
        Assert.Contains("      full: { type: ccx33, count: 1 }", text);
        Assert.Equal(Core.Topology.SiteMode.Full, Core.Topology.TopologyLoader.Load(stacks).Find("standby-hel1")!.Mode);
    }

    [Fact]
    public async Task Config_rm_all_takes_a_snapshot_key_out_of_the_stack_file_as_the_real_cli_does_and_keeps_the_rest()
    {
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        var stacks = Path.Combine(_pulumi.ProjectDirectory, "infra", "stacks");
        var tenants = Core.Topology.TopologyLoader.Load(stacks).Tenants.Select(t => t.Name).ToList();
        await cli.SetConfigAsync("standby-hel1", [new("failover:mode", ConfigValue.Plain("mvd")),
            .. tenants.Append("legacy").Select(t => new ConfigSetting($"failover:snapshots.{t}", ConfigValue.Plain("4f2a9c1e"), Path: true))]);

        await cli.RemoveConfigAsync("standby-hel1", ["failover:snapshots.legacy"], path: true);

        var text = File.ReadAllText(Path.Combine(stacks, "Pulumi.standby-hel1.yaml"));
        Assert.DoesNotContain("legacy", text);
        Assert.Contains("# Cold standby: Hetzner Helsinki", text);
        Assert.Equal(tenants.Order(), Core.Topology.TopologyLoader.Load(stacks).Find("standby-hel1")!.Snapshots.Select(s => s.Tenant).Order());
    }

    [Fact]
    public async Task A_stack_file_core_refuses_fails_the_update_naming_the_operators_file_not_the_emulators_copy()
    {
        var e = await FailedUpAsync("northwind");
        Assert.True(e.Error.Contains("Pulumi.standby-hel1.yaml:") && e.Error.Contains("no snapshot for contoso"), e.Error);
        Assert.DoesNotContain("failover-emulated-stacks", e.Error);
    }

    [Fact]
    public async Task A_restore_point_that_leaves_a_tenant_out_on_purpose_gets_past_the_stack_check_as_a_whole_one_does()
    {
        // As `failover run --without-tenant contoso` writes it: the update goes on to the vault's stack reference (never
        // deployed here), exactly as A_restoring_standby_whose_vault_was_never_deployed… does with every tenant restored.
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("standby-hel1");
        await cli.SetConfigAsync("standby-hel1", "failover:snapshots.contoso", ConfigValue.Plain("left-out"), path: true);
        var e = await FailedUpAsync("northwind", "fabrikam", "tailspin", "wingtip", "adventure-works", "litware", "proseware", "lucerne", "margie");
        Assert.DoesNotContain("no snapshot for", e.Error);
        Assert.True(e.Error.Contains("unknown output 'resticRepository' of stack reference 'organization/failover/vault-aws-par'"), e.Error);
    }

    [Fact]
    public async Task A_server_type_the_location_no_longer_sells_fails_the_update_naming_the_server_and_boots_nothing()
    {
        // cpx31 was deprecated on 2025-10-16 and is not orderable since January 2026 (Catalog.DeprecatedServerTypes).
        Rewrite("standby-hel1", "mvd: { type: cpx22, count: 1 }", "mvd: { type: cpx31, count: 1 }");
        var e = await FailedUpAsync();
        Assert.True(e.Error.Contains("standby-hel1-app-1"), e.Error);
        Assert.True(e.Error.Contains("server type cpx31 is unavailable in location hel1"), e.Error);
    }

    [Fact]
    public async Task A_restoring_standby_whose_vault_was_never_deployed_fails_like_its_stack_reference()
    {
        var e = await FailedUpAsync("northwind", "contoso", "fabrikam", "tailspin", "wingtip", "adventure-works", "litware", "proseware", "lucerne", "margie");
        Assert.True(e.Error.Contains("unknown output 'resticRepository' of stack reference 'organization/failover/vault-aws-par'"), e.Error);
    }

    [Fact]
    public async Task The_vault_is_a_restic_repository_whose_outputs_are_secrets_and_destroy_removes_it()
    {
        var cli = Cli();
        await cli.SelectOrCreateStackAsync("vault-aws-par");
        var outputs = (await cli.UpAsync("vault-aws-par")).Outputs;
        var repository = outputs["resticRepository"].Text;
        Assert.True(File.Exists(Path.Combine(repository, "config")), "restic init made the repository");
        Assert.True(outputs["resticPassword"].IsSecret);
        Assert.True(outputs["readerAccessKeyId"].IsSecret);
        await cli.DestroyAsync("vault-aws-par");
        Assert.False(Directory.Exists(repository));
    }

    public void Dispose() => _pulumi.Dispose();
}
