using System.Collections.Immutable;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Pulumi;
using HCloud = Pulumi.HCloud;
using Aws = Pulumi.Aws;

namespace Failover.Infra;

/// <summary>Builds the resources of one stack from its role and returns its outputs.</summary>
public static class FailoverStack
{
    public static IDictionary<string, object?> Build(StackInputs inputs) => BuildExports(inputs).ToDictionary();

    public static StackExports BuildExports(StackInputs inputs)
    {
        var stack = inputs.Stack;
        var exports = new StackExports()
            .Plain(StackOutputs.StackName, stack.Name)
            .Plain(StackOutputs.StackRole, stack.Role.ToString().ToLowerInvariant());
        switch (stack.Role)
        {
            case Role.Production or Role.Standby or Role.Rehearsal:
                BuildSite(inputs, exports);
                break;
            case Role.Vault:
                BuildVault(inputs, exports);
                break;
            case Role.Dns:
                BuildZone(inputs, exports);
                break;
        }
        return exports;
    }

    private static void BuildSite(StackInputs inputs, StackExports exports)
    {
        var plan = SitePlan.For(inputs.Stack);
        var recipe = plan.DataServer is { } data
            ? RestoreRecipe.For(inputs.Topology, inputs.Stack, data.Capacity.Vcpus)
            : null;
        var credentials = recipe is null ? null : VaultCredentials(inputs);
        // The backup agent of a serving site's data server, with every vault's write-only credentials.
        var backup = SiteUserData.AgentThatFits(plan, recipe, Failover.Core.Backup.BackupPlan.OfSite(inputs.Topology, inputs.Stack));
        var writers = backup is null ? null : VaultWriters(backup);
        // The key of the control requests its servers take (SiteControl: the agent's start, the fence's stop): generated
        // once per site that can serve, kept in state.
        var controlKey = !SiteControl.HasKey(inputs.Stack) ? null : new Pulumi.Random.RandomPassword(plan.Names.ControlKey, new Pulumi.Random.RandomPasswordArgs
        {
            Length = BackupControl.KeyLength, Special = false,
        }).Result;
        var provider = inputs.Stack.Site.Provider;
        // The gzipped cloud-config as base64 (Core checks the provider's limit and fails the update over it).
        Output<string> UserData(PlannedServer server)
        {
            var boot = ServerBootstrap.For(plan, server, recipe, backup);
            if ((boot.Restore is null || credentials is null) && (boot.Backup is null || writers is null) && controlKey is null)
                return Output.Create(ServerUserData.Encode(server.Name, CloudConfig.Render(boot, null), provider).Base64Gzip);
            var read = boot.Restore is null || credentials is null ? Output.Create((ResticCredentials?)null) : credentials.Apply(c => (ResticCredentials?)c);
            var write = boot.Backup is null || writers is null ? Output.Create(ImmutableArray<VaultWriter>.Empty) : writers;
            var key = controlKey ?? Output.Create("");
            return Output.CreateSecret(Output.Tuple(read, write, key).Apply(t =>
                ServerUserData.Encode(server.Name, CloudConfig.Render(boot, t.Item1, t.Item2.Length == 0 ? null : t.Item2, t.Item3.Length == 0 ? null : t.Item3), provider).Base64Gzip));
        }

        SiteAddresses addresses = inputs.Stack.Site.Provider switch
        {
            Provider.Hetzner => new HetznerSite(plan, UserData, Providers.Hetzner(inputs)).Addresses,
            Provider.Aws => new AwsSite(plan, UserData, Providers.Aws(inputs.Stack)).Addresses,
            var p => throw new InvalidOperationException($"{inputs.Stack.Name}: {p} sites are run by the driver's local provider, not by Pulumi"),
        };
        // Which address answers what is Core's decision (SiteOutputs): health is the data server's.
        var outputs = Output.Tuple(addresses.Ipv4, addresses.Ipv6, addresses.Hostname, addresses.Servers)
            .Apply(a => SiteOutputs.For(plan, a.Item4, plan.LoadBalancer is null ? null : a.Item1, a.Item2, a.Item3));
        exports.Plain(StackOutputs.Mode, inputs.Stack.Mode.ToString().ToLowerInvariant())
            .Plain(StackOutputs.ServiceIpv4, outputs.Apply(o => o.ServiceIpv4))
            .Plain(StackOutputs.ServiceIpv6, outputs.Apply(o => o.ServiceIpv6))
            .Plain(StackOutputs.ServiceHostname, outputs.Apply(o => o.ServiceHostname))
            .Plain(StackOutputs.HealthIpv4, outputs.Apply(o => o.HealthIpv4))
            .Plain(StackOutputs.HealthUrl, outputs.Apply(o => o.HealthUrl))
            .Plain(StackOutputs.ServerAddresses, addresses.Servers)
            .Plain(StackOutputs.RestoredSnapshots, (recipe?.SnapshotIds ?? new Dictionary<string, string>()).ToImmutableDictionary());
        if (controlKey is not null) exports.Secret(StackOutputs.ControlKey, controlKey);
    }

    /// <summary>The vault's repository and read-only credentials, read from the vault stack's secret outputs.</summary>
    private static Output<ResticCredentials> VaultCredentials(StackInputs inputs)
    {
        var vault = RestoreSource.VaultFor(inputs.Topology, inputs.Stack);
        var reference = new StackReference(StackOutputs.ReferenceName(
            Deployment.Instance.OrganizationName, Deployment.Instance.ProjectName, vault.Name));
        Output<string> Read(string name) => reference.RequireOutput(name).Apply(v => v?.ToString() ?? "");
        return Output.Tuple(Read(StackOutputs.ResticRepository), Read(StackOutputs.ResticPassword),
                Read(StackOutputs.ReaderAccessKeyId), Read(StackOutputs.ReaderSecretAccessKey))
            .Apply(t => new ResticCredentials(t.Item1, t.Item2, t.Item3, t.Item4));
    }

    /// <summary>Each vault's repository and write-only credentials (production's append-only key), from the vault stacks' secret outputs.</summary>
    private static Output<ImmutableArray<VaultWriter>> VaultWriters(Failover.Core.Backup.BackupPlan backup) =>
        Output.All(backup.Vaults.Select(v =>
        {
            // Its own resource name: the restore's reader credentials may reference the same vault stack.
            var name = StackOutputs.ReferenceName(Deployment.Instance.OrganizationName, Deployment.Instance.ProjectName, v.Vault);
            var reference = new StackReference(name + "-writer", new StackReferenceArgs { Name = name });
            // A Storage Box has no access keys (restic reaches it over sftp): those read as empty.
            Output<string> Read(string output) => reference.GetOutput(output).Apply(o => o?.ToString() ?? "");
            return Output.Tuple(Read(StackOutputs.ResticRepository), Read(StackOutputs.ResticPassword),
                    Read(StackOutputs.WriterAccessKeyId), Read(StackOutputs.WriterSecretAccessKey))
                .Apply(t => new VaultWriter(v.Vault, new ResticCredentials(t.Item1, t.Item2, t.Item3, t.Item4)));
        }).ToArray());

    private static void BuildVault(StackInputs inputs, StackExports exports)
    {
        var plan = VaultPlan.For(inputs.Topology, inputs.Stack);
        switch (plan.Kind)
        {
            case VaultKind.S3:
                var bucket = new S3Vault(plan, Providers.Aws(inputs.Stack));
                exports.Plain(StackOutputs.VaultUrl, plan.VaultUrl)
                    .Plain(StackOutputs.ResticRepository, plan.ResticRepository)
                    .Secret(StackOutputs.ResticPassword, bucket.ResticPassword)
                    .Secret(StackOutputs.WriterAccessKeyId, bucket.WriterKeyId)
                    .Secret(StackOutputs.WriterSecretAccessKey, bucket.WriterSecret)
                    .Secret(StackOutputs.ReaderAccessKeyId, bucket.ReaderKeyId)
                    .Secret(StackOutputs.ReaderSecretAccessKey, bucket.ReaderSecret);
                break;
            case VaultKind.StorageBox:
                var box = new StorageBoxVault(plan, Providers.Hetzner(inputs));
                exports.Plain(StackOutputs.VaultUrl, box.Repository)
                    .Plain(StackOutputs.ResticRepository, box.Repository)
                    .Secret(StackOutputs.ResticPassword, box.ResticPassword);
                break;
            default:
                throw new InvalidOperationException($"{inputs.Stack.Name}: a {plan.Kind} vault is a local directory, made by the driver");
        }
    }

    private static void BuildZone(StackInputs inputs, StackExports exports)
    {
        var plan = DnsPlan.For(inputs.Topology, inputs.Stack);
        var active = new StackReference(StackOutputs.ReferenceName(
            Deployment.Instance.OrganizationName, Deployment.Instance.ProjectName, plan.Active.Name));
        Output<string> Value(string output) => active.RequireOutput(output).Apply(v => v?.ToString() ?? "");
        exports.Plain(StackOutputs.ActiveStack, plan.Active.Name);
        switch (plan.Dns.Provider)
        {
            case DnsProvider.Route53:
                var zone = new Route53Zone(plan, Value, Providers.Aws(inputs.Stack));
                exports.Plain(StackOutputs.ZoneId, zone.ZoneId).Plain(StackOutputs.NameServers, zone.NameServers)
                    .Plain(StackOutputs.HealthCheckId, zone.HealthCheckId);
                break;
            case DnsProvider.HetznerDns:
                var hzone = new HetznerZone(plan, Value, Providers.Hetzner(inputs));
                exports.Plain(StackOutputs.ZoneId, hzone.ZoneId).Plain(StackOutputs.NameServers, hzone.NameServers)
                    .Plain(StackOutputs.HealthCheckId, "");
                break;
            default:
                throw new InvalidOperationException($"{inputs.Stack.Name}: PowerDNS zones are managed by the driver over the PowerDNS API, not by Pulumi");
        }
    }
}

/// <summary>The explicit providers of a stack: nothing relies on ambient provider configuration.</summary>
public static class Providers
{
    public static HCloud.Provider Hetzner(StackInputs inputs) =>
        new($"{inputs.Stack.Name}-hcloud", new HCloud.ProviderArgs { Token = inputs.HcloudToken() });

    public static Aws.Provider Aws(StackSpec stack) =>
        new($"{stack.Name}-aws-{stack.Site.Location}", new Aws.ProviderArgs
        {
            Region = stack.Site.Location,
            DefaultTags = new Aws.Inputs.ProviderDefaultTagsArgs { Tags = new SiteNames(stack.Name, stack.Role).Labels().ToDictionary() },
        });
}

/// <summary>The public addresses a site component publishes (empty strings when the site runs nothing).</summary>
public sealed record SiteAddresses(Output<string> Ipv4, Output<string> Ipv6, Output<string> Hostname, Output<ImmutableDictionary<string, string>> Servers)
{
    /// <summary>Each server's public IPv4 by server name, once the provider has assigned them.</summary>
    public static Output<ImmutableDictionary<string, string>> ByServer(IEnumerable<(string Name, Output<string> Ip)> servers) =>
        Output.All(servers.Select(s => s.Ip.Apply(ip => (s.Name, ip))).ToArray())
            .Apply(pairs => pairs.ToImmutableDictionary(p => p.Name, p => p.ip));
}
