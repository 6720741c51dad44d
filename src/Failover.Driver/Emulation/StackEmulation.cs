using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Failover.Core.FailureDomains;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog;
using YamlDotNet.RepresentationModel;

namespace Failover.Driver.Emulation;

/// <summary>One resource of an emulated update and what happened to it (create, same, update, replace).</summary>
public sealed record EmulatedChange(string Type, string Name, string Op);

/// <summary>What an emulated `pulumi up` or `destroy` did: its resources, the stack's outputs, or the resource that failed and the provider's words.</summary>
public sealed record EmulatedUpdate(IReadOnlyList<EmulatedChange> Resources, JsonObject Outputs, EmulatedChange? Failed = null, string? Error = null);

/// <summary>
/// The Hetzner and AWS providers as `pulumi up` meets them, on this machine. The program is Core's, as infra/ runs it:
/// the stack files (with the config `pulumi config set` changed) read by <see cref="TopologyLoader"/>, the site planned by
/// <see cref="SitePlan"/>, each server's user data rendered by <see cref="SiteUserData"/> and outputs computed by
/// <see cref="SiteOutputs"/>. The providers are emulated: a server is an <see cref="EmulatedServer"/> booted from exactly
/// those user data bytes, with its volume attached at the provider's device link; the providers' own refusals are
/// checked here, independently of Core's checks: user data over the documented limit, a server type the location does
/// not sell, a name already used, a delete of a protected server, a replacement made create-first.
/// </summary>
public static partial class StackEmulation
{
    /// <summary>The project's stack files with <paramref name="config"/> (what `pulumi config set` stored) written over this stack's.</summary>
    public static Topology OverlaidTopology(string projectDirectory, string stack, IReadOnlyDictionary<string, JsonNode?> config)
    {
        var stacks = TopologyLoader.DefaultStacksDirectory(projectDirectory);
        var copy = System.IO.Directory.CreateTempSubdirectory("failover-emulated-stacks-").FullName;
        try
        {
            foreach (var f in System.IO.Directory.GetFiles(stacks, "Pulumi.*.yaml")) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            var file = Path.Combine(copy, $"Pulumi.{stack}.yaml");
            var yaml = new YamlStream();
            if (File.Exists(file)) using (var reader = new StreamReader(file)) yaml.Load(reader);
            if (yaml.Documents.Count == 0) yaml.Documents.Add(new YamlDocument(new YamlMappingNode()));
            var root = (YamlMappingNode)yaml.Documents[0].RootNode;
            if (!root.Children.TryGetValue(new YamlScalarNode("config"), out var node) || node is not YamlMappingNode configNode)
                root.Children[new YamlScalarNode("config")] = configNode = new YamlMappingNode();
            foreach (var (key, value) in config)
                if (key.StartsWith("failover:", StringComparison.Ordinal) && !PulumiCli.Secrets.Contains(value))
                    configNode.Children[new YamlScalarNode(key)] = ToYaml(value);
            using (var writer = new StreamWriter(file)) yaml.Save(writer, assignAnchors: false);
            try { return TopologyLoader.Load(copy, TopologyLoader.FindProjectFile(projectDirectory), stacks); }
            catch (TopologyException e)
            {
                // The copy is this program's business: the operator's file is the one to fix (with what `config set` stored in it).
                throw new InvalidOperationException(e.Message.Replace(Path.GetRelativePath(stacks, copy) + "/", "").Replace(copy + "/", ""));
            }
        }
        finally { System.IO.Directory.Delete(copy, recursive: true); }
    }

    /// <summary>
    /// The `config:` of the stack's file as the real CLI reads it (fully qualified key → value; objects and lists keep
    /// their shape, numbers and booleans inside them their type). A <c>secure:</c> value stays secret, its ciphertext
    /// standing for the value: the emulator holds no key to decrypt it. Empty when the stack has no file.
    /// </summary>
    public static SortedDictionary<string, JsonNode?> FileConfig(string projectDirectory, string stack)
    {
        var config = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var file = Path.Combine(TopologyLoader.DefaultStacksDirectory(projectDirectory), $"Pulumi.{stack}.yaml");
        if (!File.Exists(file)) return config;
        var yaml = new YamlStream();
        using (var reader = new StreamReader(file)) yaml.Load(reader);
        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("config"), out var node) || node is not YamlMappingNode entries)
            return config;
        foreach (var (key, value) in entries)
        {
            var name = key.ToString();
            config[name.Contains(':') ? name : $"{ProjectName(projectDirectory)}:{name}"] = value is YamlScalarNode top ? JsonValue.Create(top.Value ?? "") : ToJson(value);
        }
        return config;
    }

    /// <summary>
    /// `pulumi config set` as the real CLI stores it: in the stack's file, Pulumi.STACK.yaml in the stackConfigDir
    /// (docs/pulumi-cli-contract.md: "Values live in Pulumi.&lt;stack&gt;.yaml"), so the stack files of the machine that ran
    /// the driver say what it deployed, and the driver's stale-checkout guard compares them with what is deployed. Only
    /// the key's own block is rewritten: the real CLI re-serializes the whole file, dropping comments and sorting keys
    /// (pulumi/pulumi#423, #3613), which this emulation does not reproduce. Not written: a secret (the emulator holds no
    /// key to encrypt it), a key outside failover's namespace, and a stack without a file (a rehearsal copy's config
    /// stays in the emulator's state and goes with `stack rm`).
    /// </summary>
    public static void WriteConfig(string projectDirectory, string stack, string key, JsonNode? value)
    {
        var file = Path.Combine(TopologyLoader.DefaultStacksDirectory(projectDirectory), $"Pulumi.{stack}.yaml");
        if (!key.StartsWith("failover:", StringComparison.Ordinal) || PulumiCli.Secrets.Contains(value) || !File.Exists(file)) return;
        // Core's stack-file text edit, the one the role rewrite uses: the key's own entry replaced (or added last), the rest kept.
        File.WriteAllText(file, StackFileEdit.SetConfig(file, File.ReadAllText(file), key, Render(key, value, 0)).After);
    }

    /// <summary>`pulumi config rm` of a whole key, in the stack's file as <see cref="WriteConfig"/> keeps it: the key's entry goes.</summary>
    public static void RemoveConfig(string projectDirectory, string stack, string key)
    {
        var file = Path.Combine(TopologyLoader.DefaultStacksDirectory(projectDirectory), $"Pulumi.{stack}.yaml");
        if (File.Exists(file)) File.WriteAllText(file, StackFileEdit.RemoveConfig(file, File.ReadAllText(file), key).After);
    }

    /// <summary>
    /// A value as YAML lines at <paramref name="indent"/>: objects as block mappings; a string plain where YAML reads it
    /// back as that string (as the CLI's YAML encoder writes it: `mode: mvd`), double-quoted where it would read as a
    /// number, a boolean or null, or holds other characters (`"12345678"`); anything else in JSON's notation (YAML's flow style).
    /// </summary>
    private static List<string> Render(string key, JsonNode? value, int indent)
    {
        var pad = new string(' ', indent);
        static string Text(string s) => PlainScalar().IsMatch(s) && !NotAString().IsMatch(s) ? s : System.Text.Json.JsonSerializer.Serialize(s);
        return value switch
        {
            JsonObject { Count: > 0 } o => [$"{pad}{Text(key)}:", .. o.SelectMany(p => Render(p.Key, p.Value, indent + 2))],
            JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => [$"{pad}{Text(key)}: {Text(v.GetValue<string>())}"],
            _ => [$"{pad}{Text(key)}: {value?.ToJsonString() ?? "null"}"],
        };
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_./:-]*$")]
    private static partial System.Text.RegularExpressions.Regex PlainScalar();

    /// <summary>Plain scalars YAML (1.1 or 1.2) reads as something else than a string.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^([-+]?[0-9][0-9_.:]*([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?\.?(inf|Inf|INF|nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|null|Null|NULL|~)$")]
    private static partial System.Text.RegularExpressions.Regex NotAString();

    private static string ProjectName(string projectDirectory) =>
        ProjectSettings.Read(TopologyLoader.FindProjectFile(projectDirectory)!, projectDirectory).Name ?? "project";

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m when m.Children.Count == 1 && m.Children.ContainsKey(new YamlScalarNode("secure")) =>
            PulumiCli.Secrets.Wrap(JsonValue.Create(m.Children[new YamlScalarNode("secure")].ToString())),
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(c.Key.ToString(), ToJson(c.Value)))),
        YamlSequenceNode q => new JsonArray(q.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted), Value: var v } when long.TryParse(v, out var n) => JsonValue.Create(n),
        YamlScalarNode { Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted), Value: var v } when double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
        YamlScalarNode { Style: not (YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted), Value: "true" or "false" } b => JsonValue.Create(b.Value == "true"),
        YamlScalarNode sc => JsonValue.Create(sc.Value ?? ""),
        _ => null,
    };

    private static YamlNode ToYaml(JsonNode? node) => node switch
    {
        JsonObject o => new YamlMappingNode(o.Select(p => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(p.Key), ToYaml(p.Value)))),
        JsonArray a => new YamlSequenceNode(a.Select(ToYaml)),
        null => new YamlScalarNode("null"),
        _ => new YamlScalarNode(node.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString()),
    };

    /// <summary>`pulumi up` of <paramref name="stackName"/>: the vault's bucket, or the site's servers booted, replaced or removed.</summary>
    public static async Task<EmulatedUpdate> UpAsync(string emulation, Topology topology, string stackName,
        Func<string, IReadOnlyDictionary<string, JsonNode?>?> outputsOf, IReadOnlyDictionary<string, string> env, ILogger log, CancellationToken cancellation)
    {
        var stack = topology.Find(stackName) ?? throw new InvalidOperationException($"stack '{stackName}' has no Pulumi.{stackName}.yaml");
        return stack.Role switch
        {
            Role.Vault => await EmulatedCloud.ChangeAsync(emulation, cloud => VaultUpAsync(cloud, stack, log, cancellation), cancellation),
            Role.Production or Role.Standby or Role.Rehearsal when stack.Site.Provider is Provider.Hetzner or Provider.Aws =>
                await EmulatedCloud.ChangeAsync(emulation, cloud => SiteUpAsync(cloud, topology, stack, outputsOf, env, log, cancellation), cancellation),
            _ => throw new InvalidOperationException(
                $"{stackName}: the emulator runs Hetzner and AWS sites and vaults; a {stack.Role} stack of provider {stack.Site.Provider} is not emulated " +
                "(the cloud drill serves the zone from PowerDNS, which the driver manages itself)"),
        };
    }

    /// <summary>`pulumi destroy`: the stack's servers stopped and removed (a protected one refused), its vault's bucket removed.</summary>
    public static Task<EmulatedUpdate> DestroyAsync(string emulation, string stackName, ILogger log, CancellationToken cancellation) =>
        EmulatedCloud.ChangeAsync(emulation, async cloud =>
        {
            var mine = cloud.Servers.Values.Where(s => s.Stack == stackName).ToList();
            if (mine.FirstOrDefault(s => s.Protected) is { } kept)
                return new EmulatedUpdate([], [], new EmulatedChange(ServerType(kept.Provider), kept.Record.Name, "delete"), ProtectedError(kept));
            await EmulatedCloud.RemoveServersAsync(cloud, mine, log);
            cloud.ControlKeys.Remove(stackName);
            if (cloud.Vaults.Remove(stackName, out var vault) && System.IO.Directory.Exists(vault.Repository))
                System.IO.Directory.Delete(vault.Repository, recursive: true);
            return new EmulatedUpdate([], []);
        }, cancellation);

    private static string ProtectedError(CloudServer s) =>
        $"unable to delete resource \"{s.Record.Name}\" as it is currently marked for protection; the provider refuses too: " +
        "server deletion is protected (protected). Lift it first (failover:protection released and pulumi up)";

    private static string ServerType(string provider) => provider == nameof(Provider.Aws) ? "aws:ec2/instance:Instance" : "hcloud:index/server:Server";

    private static async Task<EmulatedUpdate> VaultUpAsync(EmulatedCloud cloud, StackSpec stack, ILogger log, CancellationToken cancellation)
    {
        if (!cloud.Vaults.TryGetValue(stack.Name, out var vault))
        {
            // The bucket is a directory here; the repository is made as restic makes it in an empty bucket.
            // IAM-shaped keys (AKIA + 16, a 40-character secret): the repository is a directory, so nothing checks them.
            static string KeyId() => "AKIA" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
            static string Secret40() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(30));
            vault = new CloudVault(stack.Name, Path.Combine(cloud.VaultsDirectory, stack.Name), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)),
                new Dictionary<string, string>
                {
                    [StackOutputs.WriterAccessKeyId] = KeyId(), [StackOutputs.WriterSecretAccessKey] = Secret40(),
                    [StackOutputs.ReaderAccessKeyId] = KeyId(), [StackOutputs.ReaderSecretAccessKey] = Secret40(),
                });
            System.IO.Directory.CreateDirectory(cloud.VaultsDirectory);
            await new ResticRepository(new ResticSettings(vault.Repository, vault.Password), new SecretRegistry(), log).InitAsync(cancellation);
            cloud.Vaults[stack.Name] = vault;
        }
        var s3 = stack.Vault?.Kind == VaultKind.S3;
        JsonNode Secret(string v) => new JsonObject { [PulumiCli.Secrets.Marker] = v };
        var outputs = new JsonObject
        {
            [StackOutputs.StackName] = stack.Name,
            [StackOutputs.StackRole] = "vault",
            [StackOutputs.VaultUrl] = vault.Repository,
            [StackOutputs.ResticRepository] = vault.Repository,
            [StackOutputs.ResticPassword] = Secret(vault.Password),
        };
        if (s3)
            foreach (var (key, value) in vault.Keys) outputs[key] = Secret(value);
        IReadOnlyList<EmulatedChange> resources = s3
            ? [new("aws:s3/bucketV2:BucketV2", new SiteNames(stack.Name, stack.Role).Vault, "same"), new("random:index/randomPassword:RandomPassword", new SiteNames(stack.Name, stack.Role).ResticPassword, "same")]
            : [new("hcloud:index/storageBox:StorageBox", new SiteNames(stack.Name, stack.Role).Vault, "same")];
        return new EmulatedUpdate(resources, outputs);
    }

    private static async Task<EmulatedUpdate> SiteUpAsync(EmulatedCloud cloud, Topology topology, StackSpec stack,
        Func<string, IReadOnlyDictionary<string, JsonNode?>?> outputsOf, IReadOnlyDictionary<string, string> env, ILogger log, CancellationToken cancellation)
    {
        var plan = SitePlan.For(stack);
        var provider = stack.Site.Provider;
        var aws = provider == Provider.Aws;
        var serverType = ServerType(provider.ToString());
        var recipe = plan.DataServer is { } data ? RestoreRecipe.For(topology, stack, data.Capacity.Vcpus) : null;
        var resources = new List<EmulatedChange>();
        // The driver shows the diagnostic's message, so it names the resource as the provider's URN would.
        EmulatedUpdate Failed(string type, string name, string op, string error) => new(resources, [], new EmulatedChange(type, name, op), $"{name}: {error}");

        // The infra program's StackReference to the vault, for the restore's credentials.
        ResticCredentials? credentials = null;
        if (recipe is not null)
        {
            var vault = RestoreSource.VaultFor(topology, stack);
            var vaultOutputs = outputsOf(vault.Name) ?? new Dictionary<string, JsonNode?>();
            string Read(string name) => vaultOutputs.TryGetValue(name, out var v) && v is not null
                ? PulumiCli.Secrets.Render(v, null)?.GetValue<string>() ?? ""
                : throw new InvalidOperationException($"unknown output '{name}' of stack reference 'organization/failover/{vault.Name}': has `pulumi up` run on {vault.Name}?");
            credentials = new ResticCredentials(Read(StackOutputs.ResticRepository), Read(StackOutputs.ResticPassword),
                vaultOutputs.ContainsKey(StackOutputs.ReaderAccessKeyId) ? Read(StackOutputs.ReaderAccessKeyId) : "",
                vaultOutputs.ContainsKey(StackOutputs.ReaderSecretAccessKey) ? Read(StackOutputs.ReaderSecretAccessKey) : "");
        }
        // The backup agent of a serving site's data server with each vault's write-only keys, as infra/ gives them
        // (its second StackReference per vault: outputs read with GetOutput, so a missing one is empty).
        var backup = SiteUserData.AgentThatFits(plan, recipe, Failover.Core.Backup.BackupPlan.OfSite(topology, stack));
        var writers = backup?.Vaults.Select(v =>
        {
            var o = outputsOf(v.Vault) ?? new Dictionary<string, JsonNode?>();
            string Get(string name) => o.TryGetValue(name, out var x) && x is not null ? PulumiCli.Secrets.Render(x, null)?.GetValue<string>() ?? "" : "";
            return new VaultWriter(v.Vault, new ResticCredentials(Get(StackOutputs.ResticRepository), Get(StackOutputs.ResticPassword),
                Get(StackOutputs.WriterAccessKeyId), Get(StackOutputs.WriterSecretAccessKey)));
        }).ToList();
        // infra/'s RandomPassword for the control request: letters and digits, made once per stack.
        string? controlKey = null;
        if (SiteControl.HasKey(stack))
        {
            if (!cloud.ControlKeys.TryGetValue(stack.Name, out controlKey))
                cloud.ControlKeys[stack.Name] = controlKey = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", BackupControl.KeyLength);
            resources.Add(new("random:index/randomPassword:RandomPassword", plan.Names.ControlKey, "same"));
        }
        var userData = SiteUserData.For(plan, recipe, credentials, measureOnly: true, backup, writers is { Count: > 0 } ? writers : null, controlKey)
            .ToDictionary(u => u.Server);

        resources.AddRange(aws
            ? [new("aws:ec2/vpc:Vpc", plan.Names.Network, "same"), new("aws:ec2/subnet:Subnet", plan.Names.Subnet, "same"),
               new("aws:ec2/securityGroup:SecurityGroup", plan.Names.Firewall, "same")]
            : [new("hcloud:index/network:Network", plan.Names.Network, "same"), new("hcloud:index/networkSubnet:NetworkSubnet", plan.Names.Subnet, "same"),
               new("hcloud:index/firewall:Firewall", plan.Names.Firewall, "same"), new("hcloud:index/placementGroup:PlacementGroup", plan.Names.PlacementGroup, "same")]);
        resources.AddRange(stack.Access.SshPublicKeys.Select((_, i) => new EmulatedChange(aws ? "aws:ec2/keyPair:KeyPair" : "hcloud:index/sshKey:SshKey", plan.Names.SshKey(i), "same")));

        var changes = plan.Changes;
        var mine = cloud.Servers.Values.Where(s => s.Stack == stack.Name).ToDictionary(s => s.Record.Name);
        // Servers the program no longer declares go first (a scale-down), refused while protected.
        var gone = mine.Values.Where(s => plan.Servers.All(p => p.Name != s.Record.Name)).ToList();
        if (gone.FirstOrDefault(s => s.Protected) is { } kept) return Failed(serverType, kept.Record.Name, "delete", ProtectedError(kept));
        await EmulatedCloud.RemoveServersAsync(cloud, gone, log);

        var toBoot = new List<(PlannedServer Server, int Position, string Hash, byte[] Bytes)>();
        foreach (var (server, position) in plan.Servers.Select((s, i) => (s, i)))
        {
            var sent = userData[server.Name];
            var bytes = Convert.FromBase64String(sent.Base64Gzip);
            // The providers' documented limits, counted as each provider counts (not Core's verdict: its own check is tested in Core).
            var over = aws ? bytes.Length > 16 * 1024 : sent.Base64Gzip.Length > 32 * 1024;
            if (over)
                return Failed(serverType, server.Name, "create", aws
                    ? $"creating EC2 Instance: operation error EC2: RunInstances, api error InvalidParameterValue: User data is limited to 16384 bytes ({bytes.Length} given; {UserDataLimit.Aws.Source})"
                    : $"user_data: the user data is {sent.Base64Gzip.Length} characters, at most 32768 are allowed (invalid_input; {UserDataLimit.Hetzner.Source})");
            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (mine.TryGetValue(server.Name, out var existing))
            {
                var changed = existing.UserDataHash != hash || existing.Type != server.Type;
                // Production and a fenced site ignore user data changes (ChangeRules); a new type is an in-place resize.
                if (!changed || (changes.Kept && existing.Type == server.Type))
                {
                    cloud.Servers[server.Name] = existing with { Protected = changes.Protected };
                    resources.Add(new(serverType, server.Name, "same"));
                    continue;
                }
                if (changes.Kept)
                {
                    cloud.Servers[server.Name] = existing with { Type = server.Type, Protected = changes.Protected };
                    resources.Add(new(serverType, server.Name, "update"));
                    continue;
                }
                if (existing.Protected) return Failed(serverType, server.Name, "replace", ProtectedError(existing));
                // Create-first would meet the old server's name (and its primary IP still assigned): Hetzner refuses it.
                if (!changes.DeleteBeforeReplace)
                    return Failed(serverType, server.Name, "replace", "server name is already used (uniqueness_error): the replacement was created before the old server was deleted");
                await EmulatedServer.Attach(existing.Record, log).DeleteAsync();
                cloud.Servers.Remove(server.Name);
                resources.Add(new(serverType, server.Name, "replace"));
            }
            else
            {
                if (cloud.Servers.TryGetValue(server.Name, out var other))
                    return Failed(serverType, server.Name, "create", $"server name is already used (uniqueness_error): {server.Name} belongs to stack {other.Stack}");
                if (Catalog.FindServerType(provider, server.Type) is null)
                    return Failed(serverType, server.Name, "create", aws
                        ? $"creating EC2 Instance: api error InvalidParameterValue: Invalid value '{server.Type}' for InstanceType"
                        : $"server type {server.Type} not found (invalid_input)");
                if (!Catalog.IsOrderable(provider, server.Type, stack.Site.Location))
                    return Failed(serverType, server.Name, "create", aws
                        ? $"creating EC2 Instance: api error Unsupported: The requested instance type {server.Type} is not supported in {stack.Site.Location}"
                        : $"server type {server.Type} is unavailable in location {stack.Site.Location} (invalid_input): deprecated or not sold there");
                resources.Add(new(serverType, server.Name, "create"));
            }
            toBoot.Add((server, position, hash, bytes));
        }

        if (toBoot.Count > 0)
        {
            var root = await DebianRoot.EnsureAsync(env.GetValueOrDefault(EmulatedCloud.RootsVariable) ?? DebianRoot.DefaultCache, DebianRoot.UserDataPackages, log, cancellation);
            var block = IPAddress.Parse(env.GetValueOrDefault(EmulatedCloud.BlockVariable) ?? EmulatedCloud.DefaultBlock);
            var taken = new List<int>();
            var seeds = toBoot.Select(b =>
            {
                var index = cloud.FreeIndex(taken);
                taken.Add(index);
                return (b, Seed(cloud, stack, plan, b.Server, b.Position, b.Bytes, index), Network(plan, block, index, b.Position));
            }).ToList();
            var booted = await Task.WhenAll(seeds.Select(async x =>
            {
                try { return (x.b, Server: await EmulatedServer.BootAsync(x.Item2, root, cloud.ServersDirectory, x.Item3, log, cancellation), Error: (string?)null); }
                catch (ServerBootException e) { return (x.b, Server: (EmulatedServer?)null, Error: e.Line); }
                catch (Exception e) when (e is InvalidOperationException or IOException) { return (x.b, Server: (EmulatedServer?)null, Error: e.Message); }
            }));
            foreach (var (b, server, _) in booted)
                if (server is not null)
                    cloud.Servers[b.Server.Name] = new CloudServer(stack.Name, provider.ToString(), stack.Site.Location, b.Server.Type, b.Hash, changes.Protected, server.Record);
            if (booted.FirstOrDefault(x => x.Error is not null) is { Error: { } error } failed)
                return Failed(serverType, failed.b.Server.Name, "create", $"the server did not boot: {error}");
        }

        foreach (var s in plan.Servers)
        {
            if (s.VolumeGb > 0) resources.Add(new(aws ? "aws:ebs/volume:Volume" : "hcloud:index/volume:Volume", plan.Names.Volume(s.Group, s.Index), "same"));
            resources.Add(new(aws ? "aws:ec2/eip:Eip" : "hcloud:index/primaryIp:PrimaryIp", plan.Names.Ipv4(s.Group, s.Index), "same"));
        }
        if (plan.LoadBalancer is { } lb) resources.Add(new("hcloud:index/loadBalancer:LoadBalancer", lb.Name, "same"));

        var addresses = plan.Servers.ToDictionary(s => s.Name, s => cloud.Servers[s.Name].Record.Network.ServerAddress.ToString());
        // No load balancing is emulated: the load balancer's address is its first target's.
        var lbAddress = plan.LoadBalancer is { Targets.Count: > 0 } l ? addresses[l.Targets[0]] : null;
        var front = plan.LoadBalancer is null ? plan.FrontServer?.Name : null;
        var hostname = aws && (lbAddress ?? (front is null ? null : addresses[front])) is { } ip
            ? $"ec2-{ip.Replace('.', '-')}.{stack.Site.Location}.compute.amazonaws.com" : "";
        var site = SiteOutputs.For(plan, addresses, lbAddress, "", hostname);
        var outputs = new JsonObject
        {
            [StackOutputs.StackName] = stack.Name,
            [StackOutputs.StackRole] = stack.Role.ToString().ToLowerInvariant(),
            [StackOutputs.Mode] = stack.Mode.ToString().ToLowerInvariant(),
            [StackOutputs.ServiceIpv4] = site.ServiceIpv4,
            [StackOutputs.ServiceIpv6] = site.ServiceIpv6,
            [StackOutputs.ServiceHostname] = site.ServiceHostname,
            [StackOutputs.HealthIpv4] = site.HealthIpv4,
            [StackOutputs.HealthUrl] = site.HealthUrl,
            [StackOutputs.ServerAddresses] = new JsonObject(addresses.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))),
            [StackOutputs.RestoredSnapshots] = new JsonObject((recipe?.SnapshotIds ?? new Dictionary<string, string>()).Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))),
        };
        if (controlKey is not null) outputs[StackOutputs.ControlKey] = new JsonObject { [PulumiCli.Secrets.Marker] = controlKey };
        return new EmulatedUpdate(resources, outputs);
    }

    /// <summary>
    /// The server's seed: its user data, its volume at the provider's device link, and the emulated vault bucket at the
    /// path the vault stack's output names: written by a site with a backup agent (production, and a standby whose agent
    /// a cutover enables: infra/ gives both the write-only keys), only read by a rehearsal copy.
    /// </summary>
    private static ServerSeed Seed(EmulatedCloud cloud, StackSpec stack, SitePlan plan, PlannedServer server, int position, byte[] userData, int index)
    {
        var vaults = cloud.Vaults.Values.Select(v => $"{v.Repository}:{v.Repository}").ToList();
        var writes = stack.Role is Role.Production or Role.Standby;
        IReadOnlyList<AttachedVolume> volumes = server.VolumeGb <= 0 ? [] :
        [
            new(stack.Site.Provider == Provider.Aws
                    ? $"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol{index:x17}"
                    : $"/dev/disk/by-id/scsi-0HC_Volume_{100000 + index}",
                server.VolumeGb * 1024L * 1024 * 1024),
        ];
        return new ServerSeed(server.Name, userData, writes ? [] : vaults) { Binds = writes ? vaults : [], Volumes = volumes };
    }

    /// <summary>The server's link in the emulation's block, and its address in the site's private network (10.0.1.2, .3, …).</summary>
    private static ServerNetwork Network(SitePlan plan, IPAddress block, int index, int position)
    {
        var subnet = System.Net.IPNetwork.Parse(plan.SubnetCidr);
        var bytes = subnet.BaseAddress.GetAddressBytes();
        bytes[3] = (byte)(bytes[3] + 2 + position);
        return new ServerNetwork(block, index) { SiteAddresses = [$"{new IPAddress(bytes)}/{subnet.PrefixLength}"] };
    }
}
