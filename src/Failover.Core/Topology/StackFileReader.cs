using System.Net;
using Failover.Core.FailureDomains;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Topology;

/// <summary>
/// Reads one <c>Pulumi.&lt;stack&gt;.yaml</c>, the same file Pulumi reads, into a <see cref="StackSpec"/>.
/// Only <c>failover:*</c> keys are interpreted; provider keys (<c>hcloud:token</c>, <c>aws:region</c>) are
/// left to Pulumi, but their secrets are noted so that nothing prints them.
/// </summary>
public static class StackFileReader
{
    public const string Namespace = "failover:";

    /// <summary>Every <c>failover:*</c> key a stack file may hold; anything else under the namespace is a typo.</summary>
    public static readonly string[] Keys =
    [
        "role", "site", "mode", "servers", "tenants", "backup", "vault", "dns", "targets", "restore", "policy",
        "stateBackend", "access", "migrate", "timeLimits",
        // read by infra (Sites/InfraSettings.cs, docs/configuration-infra.md)
        "snapshots", "restoreFrom", "service", "protection",
    ];

    private static readonly Dictionary<string, Role> Roles = new()
    {
        ["production"] = Role.Production, ["standby"] = Role.Standby, ["vault"] = Role.Vault,
        ["dns"] = Role.Dns, ["rehearsal"] = Role.Rehearsal,
    };

    private static readonly Dictionary<string, Provider> Providers = new()
    {
        ["hetzner"] = Provider.Hetzner, ["aws"] = Provider.Aws, ["local"] = Provider.Local,
    };

    private static readonly Dictionary<string, SiteMode> Modes = new()
    {
        ["cold"] = SiteMode.Cold, ["mvd"] = SiteMode.Mvd, ["full"] = SiteMode.Full, ["fenced"] = SiteMode.Fenced,
    };

    private static readonly Dictionary<string, VaultKind> VaultKinds = new()
    {
        ["s3"] = VaultKind.S3, ["storagebox"] = VaultKind.StorageBox, ["directory"] = VaultKind.Directory,
    };

    private static readonly Dictionary<string, ImmutabilityMode> LockModes = new()
    {
        ["none"] = ImmutabilityMode.None, ["governance"] = ImmutabilityMode.Governance, ["compliance"] = ImmutabilityMode.Compliance,
    };

    private static readonly Dictionary<string, ProductionAccess> Accesses = new()
    {
        ["append-only"] = ProductionAccess.AppendOnly, ["read-write"] = ProductionAccess.ReadWrite,
    };

    private static readonly Dictionary<string, DnsProvider> DnsProviders = new()
    {
        ["route53"] = DnsProvider.Route53, ["hetzner"] = DnsProvider.HetznerDns, ["powerdns"] = DnsProvider.PowerDns,
    };

    /// <summary>The stack name a file stands for: <c>Pulumi.prod-fsn1.yaml</c> is stack <c>prod-fsn1</c>.</summary>
    public static string? StackNameOf(string path)
    {
        var name = Path.GetFileName(path);
        foreach (var ext in new[] { ".yaml", ".yml" })
            if (name.StartsWith("Pulumi.", StringComparison.Ordinal) && name.EndsWith(ext, StringComparison.Ordinal)
                && name.Length > "Pulumi.".Length + ext.Length)
                return name["Pulumi.".Length..^ext.Length];
        return null;
    }

    public static StackSpec Read(string path, string? displayPath = null) => ReadWithText(path, displayPath).Stack;

    /// <summary>Reads a stack file and keeps its text, for edits that must start from exactly what was read.</summary>
    internal static (StackSpec Stack, string Text) ReadWithText(string path, string? displayPath = null)
    {
        var file = displayPath ?? path;
        var name = StackNameOf(path) ?? throw new TopologyException(new TopologyProblem(file, "(file)", null,
            "not a stack file name", "name stack files Pulumi.<stack>.yaml"));
        // The stack name reaches resource names, directories and command lines: refuse it before reading anything.
        if (!StackName.IsValid(name))
            throw new TopologyException(new TopologyProblem(file, "(file)", null,
                $"stack name '{ConfigNode.Printable(name)}' (from the file name) is not usable as a resource and directory name",
                $"rename the file Pulumi.<stack>.yaml with a stack name of {StackName.Rule}"));
        var text = YamlGuard.ReadText(path, file);
        return (Parse(text, name, file), text);
    }

    public static StackSpec Parse(string yaml, string stackName, string file)
    {
        var stream = YamlGuard.Load(yaml, file, "fix the indentation or quoting at that line; `pulumi config` writes valid files");
        if (stream.Documents.Count == 0)
            throw new TopologyException(new TopologyProblem(file, "config", null, "the file is empty", "add a `config:` mapping with the failover:* keys"));
        if (stream.Documents.Count > 1)
            throw new TopologyException(new TopologyProblem(file, "(yaml)", (int)stream.Documents[1].RootNode.Start.Line,
                "more than one YAML document", "keep one document per stack file (remove the extra `---`)"));

        var root = new ConfigNode(stream.Documents[0].RootNode, file, "(root)");
        if (root.Node is not YamlMappingNode rootMap)
            throw root.Error("the file is not a YAML mapping", "start the file with `config:`");
        var configEntry = rootMap.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode { Value: "config" });
        if (configEntry.Value is null || configEntry.Value is YamlScalarNode { Value: null or "" })
            throw root.Error("no `config:` section", "add `config:` with at least failover:role and failover:site");
        if (configEntry.Value is not YamlMappingNode config)
            throw new ConfigNode(configEntry.Value, file, "config").Error("`config:` is not a mapping", "indent the keys below `config:`");

        var failover = new Dictionary<string, ConfigNode>();
        var secretKeys = new List<string>();
        var ciphertexts = new List<string>();
        var secretProblems = new List<TopologyProblem>();
        foreach (var (k, v) in config.Children)
        {
            var key = (k as YamlScalarNode)?.Value ?? "";
            var node = new ConfigNode(v, file, key);
            if (CollectSecrets(node, ciphertexts, secretProblems)) secretKeys.Add(key);
            if (!key.StartsWith(Namespace, StringComparison.Ordinal)) continue;
            var shortKey = key[Namespace.Length..];
            if (!Keys.Contains(shortKey))
                throw new TopologyException(new TopologyProblem(file, key, (int)k.Start.Line,
                    $"unknown key '{key}'{ConfigNode.Suggest(shortKey, Keys)}",
                    $"the failover keys are: {string.Join(", ", Keys.Select(x => Namespace + x))} (docs/configuration.md)"));
            failover[shortKey] = node;
        }

        // A malformed secure: value is reported alone: reading the key as a secret would only say the same again.
        if (secretProblems.Count > 0) throw new TopologyException(secretProblems);
        var problems = new List<TopologyProblem>();
        T? Section<T>(string key, Func<ConfigNode, T> read) where T : class
        {
            if (!failover.TryGetValue(key, out var node) || node.IsNull) return null;
            try { return read(node); }
            catch (TopologyException e) { problems.AddRange(e.Problems); return null; }
        }

        var role = Section("role", n => (object)n.AsEnum(Roles)) as Role?;
        if (!failover.ContainsKey("role"))
            problems.Add(new TopologyProblem(file, Namespace + "role", null, "required key is missing",
                "add `failover:role: production|standby|vault|dns|rehearsal`"));
        var site = Section("site", ReadSite);
        if (site is null && !failover.ContainsKey("site"))
            problems.Add(new TopologyProblem(file, Namespace + "site", null, "required key is missing",
                "add `failover:site:` with provider and location (docs/configuration.md#site)"));
        var modeNode = Section("mode", n => (object)n.AsEnum(Modes)) as SiteMode?;
        var servers = site is null ? null : Section("servers", n => ReadServers(n, site.Provider));
        var tenants = Section("tenants", ReadTenants);
        var backup = Section("backup", ReadBackup);
        var vault = Section("vault", ReadVault);
        var dns = Section("dns", ReadDns);
        var targets = Section("targets", ReadTargets);
        var restore = Section("restore", ReadRestore);
        var policy = Section("policy", ReadPolicy);
        var backend = Section("stateBackend", n => n.AsMap("url").Required("url", "write the backend URL, e.g. s3://bucket?region=eu-north-1").AsString());
        var access = Section("access", ReadAccess);
        var snapshots = Section("snapshots", Sites.InfraConfigReader.ReadSnapshots);
        var restoreFrom = Section("restoreFrom", n => n.AsString());
        var service = Section("service", Sites.InfraConfigReader.ReadService);
        var protection = failover.TryGetValue("protection", out var protectionNode) && !protectionNode.IsNull
            ? Sites.InfraConfigReader.ReadProtection(protectionNode) : (Sites.Protection?)null;
        var migrate = Section("migrate", ReadMigrate);
        var timeLimits = Section("timeLimits", ReadTimeLimits);

        if (role is { } r && problems.Count == 0)
        {
            void Require(bool present, string key, string fix)
            {
                if (!present) problems.Add(new TopologyProblem(file, Namespace + key, null,
                    $"required for a {r.ToString().ToLowerInvariant()} stack", fix));
            }
            if (r is Role.Production or Role.Standby or Role.Rehearsal)
                Require(servers is { Count: > 0 }, "servers", "list the server groups with their full and mvd sizes");
            if (r == Role.Production)
            {
                Require(tenants is { Count: > 0 }, "tenants", "list the tenants with name, tier and dataGb");
                Require(backup is not null, "backup", "add failover:backup with vaults and schedule");
                Require(targets is not null, "targets", "add failover:targets with rpo and rto, e.g. rpo: 1h, rto: 4h");
            }
            else
            {
                foreach (var (key, present) in new[] { ("tenants", tenants), ("backup", (object?)backup), ("targets", targets), ("policy", policy), ("timeLimits", timeLimits) })
                    if (present is not null && !(present is IReadOnlyList<Tenant> l && l.Count == 0))
                        problems.Add(new TopologyProblem(file, Namespace + key, failover[key].Line,
                            "only the production stack declares this", $"move {Namespace}{key} to the production stack"));
            }
            if (r == Role.Vault) Require(vault is not null, "vault", "add failover:vault with kind, objectLock and productionAccess");
            else if (vault is not null)
                problems.Add(new TopologyProblem(file, Namespace + "vault", failover["vault"].Line, "only a vault stack declares this", "set failover:role: vault or remove the key"));
            // infra/ builds an S3 vault as an AWS bucket and a Storage Box at Hetzner: anything else would be judged as one
            // provider and built at another. Hetzner Object Storage (S3-compatible) is not built; docs/configuration.md says so.
            if (vault is not null && site is not null && (vault.Kind, site.Provider) is (VaultKind.S3, not Provider.Aws) or (VaultKind.StorageBox, not Provider.Hetzner))
                problems.Add(new TopologyProblem(file, Namespace + "vault", failover["vault"].Line,
                    $"a {(vault.Kind == VaultKind.S3 ? "kind: s3" : "kind: storagebox")} vault cannot be at provider {site.Provider.ToString().ToLowerInvariant()}" +
                    (vault.Kind == VaultKind.S3 && site.Provider == Provider.Hetzner ? " (Hetzner Object Storage is not supported: it would be built as an AWS bucket)" : ""),
                    vault.Kind == VaultKind.S3 ? "use provider: aws with a region for an S3 vault, or kind: storagebox at hetzner" : "use provider: hetzner for a Storage Box, or kind: s3 at aws"));
            foreach (var (key, present) in new[] { ("snapshots", (object?)snapshots), ("restoreFrom", restoreFrom) })
                if (present is not null && r is not (Role.Standby or Role.Rehearsal))
                    problems.Add(new TopologyProblem(file, Namespace + key, failover[key].Line,
                        "only a standby or rehearsal stack restores backups", $"remove {Namespace}{key}: the driver sets it on the standby it fails over to"));
            if (service is not null && r is not (Role.Production or Role.Standby or Role.Rehearsal))
                problems.Add(new TopologyProblem(file, Namespace + "service", failover["service"].Line,
                    "only a site (production, standby, rehearsal) serves the application", "remove failover:service from this stack"));
            if (migrate is not null && r is not (Role.Production or Role.Standby))
                problems.Add(new TopologyProblem(file, Namespace + "migrate", failover["migrate"].Line,
                    "only a site a migration can leave (production or standby) has freeze and thaw commands", "remove failover:migrate from this stack"));
            if (r == Role.Dns) Require(dns is not null, "dns", "add failover:dns with provider, zone, records, ttl and active");
            else if (dns is not null)
                problems.Add(new TopologyProblem(file, Namespace + "dns", failover["dns"].Line, "only a dns stack declares this", "set failover:role: dns or remove the key"));
        }
        if (problems.Count > 0) throw new TopologyException(problems);

        var mode = modeNode ?? role switch
        {
            Role.Production => SiteMode.Full,
            Role.Standby => SiteMode.Cold,
            Role.Rehearsal => SiteMode.Mvd,
            _ => SiteMode.Full,
        };
        return new StackSpec(stackName, file, role!.Value, site!, mode, servers ?? [], tenants ?? [], backup, vault, dns,
            targets, restore, policy, backend, access ?? AdminAccess.None, secretKeys)
        {
            SecretCiphertexts = ciphertexts,
            Snapshots = snapshots ?? [],
            RestoreFrom = restoreFrom,
            Service = service ?? Sites.ServiceSettings.Default,
            Protection = protection ?? Sites.Protection.On,
            Migrate = migrate ?? MigrationHooks.None,
            TimeLimits = timeLimits,
        };
    }

    /// <summary>
    /// <c>failover:timeLimits</c>: a duration per limit (<c>pulumiUp: 45m</c>), a wait as a duration (its timeout) or a
    /// mapping of timeout and poll (<c>cloudGate: { timeout: 20m, poll: 10s }</c>); what is left out keeps its default.
    /// </summary>
    private static Planning.RuntimeOptions ReadTimeLimits(ConfigNode node)
    {
        var map = node.AsMap([.. Planning.RuntimeOptions.Waits, .. Planning.RuntimeOptions.Limits]);
        TimeSpan Duration(ConfigNode n) => n.AsDuration(TimeSpan.Zero, TimeSpan.FromDays(7));
        var waits = new Dictionary<string, (TimeSpan?, TimeSpan?)>();
        var limits = new Dictionary<string, TimeSpan>();
        foreach (var name in Planning.RuntimeOptions.Waits)
        {
            if (map.Optional(name) is not { } wait) continue;
            if (wait.Node is not YamlMappingNode) { waits[name] = (Duration(wait), null); continue; }
            var parts = wait.AsMap("timeout", "poll");
            waits[name] = (parts.Optional("timeout") is { } t ? Duration(t) : null, parts.Optional("poll") is { } p ? Duration(p) : null);
        }
        foreach (var name in Planning.RuntimeOptions.Limits)
            if (map.Optional(name) is { } limit) limits[name] = Duration(limit);
        try { return Planning.RuntimeOptions.From(waits, limits); }
        catch (Planning.RuntimeOptionException e)
        {
            // The setting's own line: a wait's timeout or poll where it is written on its own, else the wait's key.
            var parts = e.Setting.Split('.');
            var at = map.Optional(parts[0]) is { } n && parts.Length > 1 && n.Node is YamlMappingNode ? n.AsMap("timeout", "poll").Optional(parts[1]) ?? n : map.Optional(parts[0]);
            throw (at ?? node).Error(e.Problem, e.Fix);
        }
    }

    /// <summary>
    /// Whether the value holds a <c>secure:</c> value anywhere, collecting each ciphertext (for redaction: nothing
    /// prints them) and a problem for each <c>secure:</c> that is not one non-empty ciphertext string.
    /// </summary>
    private static bool CollectSecrets(ConfigNode node, List<string> ciphertexts, List<TopologyProblem> problems)
    {
        switch (node.Node)
        {
            case YamlMappingNode m when m.Children.Keys.Any(k => k is YamlScalarNode { Value: "secure" }):
                var value = m.Children.First(kv => kv.Key is YamlScalarNode { Value: "secure" }).Value;
                if (m.Children.Count == 1 && value is YamlScalarNode { Value: { Length: > 0 } text } && !string.IsNullOrWhiteSpace(text))
                    ciphertexts.Add(text.Trim());
                else
                    problems.Add(new TopologyProblem(node.File, node.Key, node.Line,
                        m.Children.Count > 1 ? "a secure: value with other keys beside it"
                        : value is YamlScalarNode ? "an empty secure: value" : $"secure: holds {(value is YamlSequenceNode ? "a list" : "a mapping")}, not a ciphertext",
                        $"set the secret again with `pulumi config set --secret {node.Key.Split('.', '[')[0]} ...` (it writes secure: v1:...)"));
                return true;
            case YamlMappingNode m:
                var any = false;
                foreach (var (k, v) in m.Children)
                    any |= CollectSecrets(new ConfigNode(v, node.File, $"{node.Key}.{(k as YamlScalarNode)?.Value}"), ciphertexts, problems);
                return any;
            case YamlSequenceNode s:
                var found = false;
                for (var i = 0; i < s.Children.Count; i++)
                    found |= CollectSecrets(new ConfigNode(s.Children[i], node.File, $"{node.Key}[{i}]"), ciphertexts, problems);
                return found;
            default:
                return false;
        }
    }

    private static Site ReadSite(ConfigNode node)
    {
        var map = node.AsMap("provider", "location", "region", "datacenter", "networkZone", "jurisdiction", "address");
        var provider = map.Required("provider", "write provider: hetzner, aws or local").AsEnum(Providers);
        var locNode = map.Optional("location") ?? map.Optional("region")
            ?? map.Required("location", provider == Provider.Aws ? "write region: eu-central-1 (or another AWS region)" : "write location: fsn1 (or another location)");
        var locName = locNode.AsString();
        var dc = map.Optional("datacenter")?.AsString();
        var zoneNode = map.Optional("networkZone");
        var jurNode = map.Optional("jurisdiction");
        var addrNode = map.Optional("address");

        if (provider == Provider.Local)
        {
            if (addrNode is null)
                throw map.Missing("address", "give each local site its own loopback address, e.g. address: 127.0.0.11");
            var address = addrNode.AsString();
            if (!IPAddress.TryParse(address, out var ip) || !IPAddress.IsLoopback(ip))
                throw addrNode.Error($"'{address}' is not a loopback address", "local sites bind to 127.0.0.0/8, e.g. 127.0.0.11");
            var country = jurNode?.AsString().ToUpperInvariant()
                ?? throw map.Missing("jurisdiction", "write the country the local site stands for, e.g. jurisdiction: DE");
            return new Site(provider, locName, dc ?? locName, zoneNode?.AsString() ?? "loopback", country, address);
        }

        var loc = Catalog.FindLocation(provider, locName)
            ?? throw locNode.Error($"unknown {provider.ToString().ToLowerInvariant()} location '{locName}'{ConfigNode.Suggest(locName, Catalog.LocationSuggestions(provider, locName))}",
                $"use one of: {string.Join(", ", Catalog.LocationNames(provider))}");
        if (addrNode is not null)
            throw addrNode.Error("address is only for local sites", "remove it: cloud addresses come from the stack's outputs");
        if (dc is not null && !Catalog.HasDatacenter(loc, dc))
            throw map.Optional("datacenter")!.Error($"datacenter '{dc}' is not in {loc.Name}",
                provider == Provider.Hetzner ? $"use a datacenter of {loc.Name}, e.g. {loc.Datacenters.FirstOrDefault() ?? loc.Name + "-dc1"}" : $"use an availability zone of {loc.Name}, e.g. {loc.Name}a");
        if (zoneNode is not null && !string.Equals(zoneNode.AsString(), loc.NetworkZone, StringComparison.OrdinalIgnoreCase))
            throw zoneNode.Error($"{loc.Name} is in network zone {loc.NetworkZone}, not {zoneNode.AsString()}", $"write networkZone: {loc.NetworkZone} or leave it out");
        if (jurNode is not null && !string.Equals(jurNode.AsString(), loc.Country, StringComparison.OrdinalIgnoreCase))
            throw jurNode.Error($"{loc.Name} is in {loc.Country}, not {jurNode.AsString()}", $"write jurisdiction: {loc.Country} or leave it out");
        return new Site(provider, loc.Name, dc?.ToLowerInvariant(), loc.NetworkZone, loc.Country, null);
    }

    private static IReadOnlyList<ServerGroup> ReadServers(ConfigNode node, Provider provider)
    {
        var groups = new List<ServerGroup>();
        var seen = new Dictionary<string, int?>();
        foreach (var item in node.AsList())
        {
            var map = item.AsMap("name", "full", "mvd", "volumeGb", "vcpus", "memoryGb", "diskGb");
            var nameNode = map.Required("name", "give the group a name, e.g. name: app");
            var name = nameNode.AsString();
            // Group names become server and resource names, and are written into cloud-init: the tenant rule keeps them plain.
            if (!TenantName.IsValid(name))
                throw nameNode.Error($"server group name '{ConfigNode.Printable(name)}' is not usable as a server and resource name",
                    $"use {StackName.Rule}, e.g. name: db");
            if (seen.TryGetValue(name, out var firstLine))
                throw nameNode.Error($"duplicate server group '{name}' (first at line {firstLine})", "give each server group a unique name");
            seen[name] = nameNode.Line;
            var fullNode = map.Required("full", "write full: {type: cpx42, count: 2} (or just full: cpx42)");
            var full = ReadSize(fullNode, minCount: 1);
            var mvdNode = map.Optional("mvd");
            var mvd = mvdNode is null ? full : ReadSize(mvdNode, minCount: 0);
            var volume = map.Optional("volumeGb")?.AsInt(0, 65536) ?? 0;
            ServerCapacity? declared = null;
            if (map.Optional("diskGb") is { } disk)
                declared = new ServerCapacity(
                    map.Required("vcpus", "declare vcpus, memoryGb and diskGb together").AsInt(1, 1024),
                    map.Required("memoryGb", "declare vcpus, memoryGb and diskGb together").AsNumber(0.5, 24576),
                    disk.AsInt(0, 65536));
            ServerCapacity Capacity(ServerSize size, ConfigNode at) =>
                declared ?? Catalog.FindServerType(provider, size.Type)
                ?? throw at.Error($"unknown {provider.ToString().ToLowerInvariant()} server type '{size.Type}'{ConfigNode.Suggest(size.Type, Catalog.ServerTypeNames(provider))}",
                    $"use one of: {string.Join(", ", Catalog.ServerTypeNames(provider))}; or declare vcpus, memoryGb and diskGb for a newer type");
            groups.Add(new ServerGroup(name, full, mvd, volume, Capacity(full, fullNode), Capacity(mvd, mvdNode ?? fullNode)));
        }
        if (groups.Count == 0) throw node.Error("no server groups", "list at least one server group");
        return groups;
    }

    private static ServerSize ReadSize(ConfigNode node, int minCount)
    {
        if (node.Node is YamlScalarNode) return new ServerSize(node.AsString().ToLowerInvariant(), 1);
        var map = node.AsMap("type", "count");
        return new ServerSize(
            map.Required("type", "write the server type, e.g. type: cpx32").AsString().ToLowerInvariant(),
            map.Optional("count")?.AsInt(minCount, 1000) ?? 1);
    }

    private static IReadOnlyList<Tenant> ReadTenants(ConfigNode node)
    {
        var tenants = new List<Tenant>();
        var seen = new Dictionary<string, int?>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in node.AsList())
        {
            var map = item.AsMap("name", "tier", "dataGb", "hooks");
            var nameNode = map.Required("name", "give the tenant a name");
            var name = nameNode.AsString();
            if (!TenantName.IsValid(name))
                throw nameNode.Error($"tenant name '{ConfigNode.Printable(name)}' is not usable as a database and directory name",
                    $"use {StackName.Rule}");
            if (seen.TryGetValue(name, out var first))
                throw nameNode.Error($"duplicate tenant '{name}' (first at line {first})", "give each tenant a unique name");
            seen[name] = nameNode.Line;
            var hooks = map.Optional("hooks")?.AsMap("pre", "post");
            IReadOnlyList<string> Commands(string stage) =>
                (hooks?.Optional(stage)?.AsListOrOne() ?? []).Select(c => c.AsCommand()).ToList();
            tenants.Add(new Tenant(name,
                map.Optional("tier")?.AsInt(1, 9) ?? 2,
                map.Required("dataGb", "write the tenant's expected data size in GB, e.g. dataGb: 12.5").AsNumber(0, 1_000_000))
            {
                PreRestore = Commands("pre"),
                PostRestore = Commands("post"),
            });
        }
        return tenants;
    }

    private static BackupPolicy ReadBackup(ConfigNode node)
    {
        var map = node.AsMap("vaults", "schedule", "retention");
        var vaults = map.Required("vaults", "name the vault stacks, e.g. vaults: [vault-aws-par]").AsListOrOne().Select(v => v.AsString()).ToList();
        if (vaults.Count == 0) throw map.Owner.Error("no vault stacks", "name at least one vault stack under vaults");
        if (vaults.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw map.Optional("vaults")!.Error($"vault stack '{twice.Key}' is listed twice", "name each vault stack once");
        return new BackupPolicy(vaults,
            map.Required("schedule", "write how often backups run, e.g. schedule: 1h").AsDuration(TimeSpan.FromMinutes(1), TimeSpan.FromDays(31)),
            map.Optional("retention")?.AsDuration(TimeSpan.FromDays(1), TimeSpan.FromDays(3650)) ?? TimeSpan.FromDays(30));
    }

    private static VaultSpec ReadVault(ConfigNode node)
    {
        var map = node.AsMap("kind", "bucket", "path", "objectLock", "lockFor", "productionAccess");
        var kind = map.Required("kind", "write kind: s3, storagebox or directory").AsEnum(VaultKinds);
        var lockMode = map.Optional("objectLock")?.AsEnum(LockModes) ?? ImmutabilityMode.None;
        var lockFor = map.Optional("lockFor")?.AsDuration(TimeSpan.FromDays(1), TimeSpan.FromDays(36500)) ?? TimeSpan.Zero;
        if (lockMode != ImmutabilityMode.None && lockFor == TimeSpan.Zero)
            throw map.Missing("lockFor", "write how long each backup stays locked, e.g. lockFor: 30d");
        return new VaultSpec(kind, lockMode, lockFor,
            map.Optional("productionAccess")?.AsEnum(Accesses) ?? ProductionAccess.ReadWrite,
            map.Optional("bucket")?.AsString(), map.Optional("path")?.AsString());
    }

    private static DnsSpec ReadDns(ConfigNode node)
    {
        var map = node.AsMap("provider", "zone", "records", "ttl", "active", "apiUrl", "apiKey", "servers");
        var records = new List<DnsRecord>();
        foreach (var r in map.Required("records", "list the service records, e.g. - {name: app, type: A}").AsList())
        {
            var rm = r.AsMap("name", "type");
            var type = rm.Optional("type")?.AsString().ToUpperInvariant() ?? "A";
            if (type is not ("A" or "AAAA" or "CNAME"))
                throw rm.Optional("type")!.Error($"record type '{type}' cannot follow a site", "use A, AAAA or CNAME");
            var nameNode = rm.Required("name", "write the record name relative to the zone, e.g. app or @");
            var name = nameNode.AsString();
            if (name != "@" && DnsZoneName.Problem(name) is { } bad)
                throw nameNode.Error($"record name '{name}': {bad}", "write the name relative to the zone (app, www.eu) or @ for the zone itself");
            records.Add(new DnsRecord(name, type));
        }
        var zoneNode = map.Required("zone", "write the zone, e.g. zone: example.com");
        var zone = zoneNode.AsString().TrimEnd('.');
        if (DnsZoneName.Problem(zone) is { } zoneProblem)
            throw zoneNode.Error($"zone '{zoneNode.AsString()}': {zoneProblem}", "write the zone's domain name, e.g. zone: example.com");
        var ttlNode = map.Required("ttl", "write the records' TTL, e.g. ttl: 60");
        var ttl = int.TryParse(ttlNode.AsString(), out var secs) ? ttlNode.AsInt(1, 604800)
            : (int)ttlNode.AsDuration(TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)).TotalSeconds;
        var apiKey = map.Optional("apiKey");
        if (apiKey is not null && !apiKey.IsSecret)
            throw apiKey.Error("an API key written in plain text", "store it encrypted: pulumi config set --secret --path 'failover:dns.apiKey' ...");
        return new DnsSpec(
            map.Required("provider", "write provider: route53, hetzner or powerdns").AsEnum(DnsProviders),
            zone,
            records, ttl,
            map.Required("active", "name the stack the records point at, e.g. active: prod-fsn1").AsString(),
            map.Optional("apiUrl")?.AsString(), apiKey?.AsSecret())
        {
            Servers = (map.Optional("servers")?.AsListOrOne() ?? []).Select(n =>
            {
                var text = n.AsString();
                if (!System.Net.IPEndPoint.TryParse(text.Contains(':') ? text : text + ":53", out var endpoint) || endpoint.Port == 0)
                    throw n.Error($"'{text}' is not an address or address:port", "write the authoritative server as 127.0.0.14:53 (names are looked up from the zone's NS records when servers is empty)");
                return text.Contains(':') ? text : text + ":53";
            }).ToList(),
        };
    }

    private static MigrationHooks ReadMigrate(ConfigNode node)
    {
        var map = node.AsMap("freeze", "thaw", "backup");
        IReadOnlyList<string> Commands(string key) => (map.Optional(key)?.AsListOrOne() ?? []).Select(c => c.AsCommand()).ToList();
        var hooks = new MigrationHooks(Commands("freeze"), Commands("thaw"), Commands("backup"));
        // An interrupted migration gives production its writes back: a freeze that cannot be undone would turn Ctrl-C into an outage.
        if (hooks.Freeze.Count > 0 && hooks.Thaw.Count == 0)
            throw map.Missing("thaw", "add the commands that undo the freeze, e.g. thaw: [\"curl -fsS -X POST https://admin.example.com/maintenance/off\"]");
        if (hooks.Thaw.Count > 0 && hooks.Freeze.Count == 0)
            throw map.Missing("freeze", "add the commands that stop writes, e.g. freeze: [\"curl -fsS -X POST https://admin.example.com/maintenance/on\"]");
        return hooks;
    }

    private static Targets ReadTargets(ConfigNode node)
    {
        var map = node.AsMap("rpo", "rto");
        return new Targets(
            map.Required("rpo", "write the recovery point objective, e.g. rpo: 1h").AsDuration(TimeSpan.FromSeconds(0), TimeSpan.FromDays(31)),
            map.Required("rto", "write the recovery time objective, e.g. rto: 4h").AsDuration(TimeSpan.FromMinutes(1), TimeSpan.FromDays(31)));
    }

    private static RestoreOverrides ReadRestore(ConfigNode node)
    {
        var map = node.AsMap("parallelism", "streamMBps", "tenantOverhead");
        return new RestoreOverrides(
            map.Optional("parallelism")?.AsInt(1, 64),
            map.Optional("streamMBps")?.AsNumber(0.1, 100_000),
            map.Optional("tenantOverhead")?.AsDuration(TimeSpan.Zero, TimeSpan.FromHours(6)));
    }

    private static PolicySettings ReadPolicy(ConfigNode node)
    {
        var map = node.AsMap("jurisdictions", "accept", "rehearsalCadence");
        var jurisdictions = map.Optional("jurisdictions")?.AsListOrOne().Select(j =>
        {
            var v = j.AsString().ToUpperInvariant();
            if (v is not ("EEA" or "EU") && (v.Length != 2 || !v.All(char.IsAsciiLetterUpper)))
                throw j.Error($"'{v}' is not a jurisdiction", "write EEA, EU or a two-letter country code such as DE");
            return v;
        }).ToList() ?? [];
        var accepted = map.Optional("accept")?.AsList().Select(a =>
        {
            var am = a.AsMap("id", "reason");
            var idNode = am.Required("id", "write the policy id to accept");
            var id = idNode.AsString();
            var ids = Policies.PolicyBook.All.Select(p => p.Id).ToList();
            if (!ids.Contains(id))
                throw idNode.Error($"unknown policy '{id}'{ConfigNode.Suggest(id, ids)}", "use an id from docs/policies.md");
            return new AcceptedRisk(id,
                am.Required("reason", "say why the risk is accepted; the reason is printed with the finding").AsString());
        }).ToList() ?? [];
        var cadence = map.Optional("rehearsalCadence")?.AsDuration(TimeSpan.FromHours(1), TimeSpan.FromDays(366));
        return new PolicySettings(jurisdictions, accepted) { RehearsalCadence = cadence ?? TimeSpan.FromDays(7) };
    }

    private static AdminAccess ReadAccess(ConfigNode node)
    {
        var map = node.AsMap("adminCidrs", "sshPublicKeys");
        var cidrs = (map.Optional("adminCidrs")?.AsListOrOne() ?? []).Select(c =>
        {
            var text = c.AsString();
            if (!IPNetwork.TryParse(text, out _))
                throw c.Error($"'{text}' is not a CIDR", "write an address range such as 203.0.113.7/32");
            return text;
        }).ToList();
        var keys = (map.Optional("sshPublicKeys")?.AsListOrOne() ?? []).Select(k =>
        {
            var text = k.AsString();
            if (!text.StartsWith("ssh-", StringComparison.Ordinal) && !text.StartsWith("ecdsa-", StringComparison.Ordinal))
                throw k.Error("not an OpenSSH public key", "paste the one line of your id_ed25519.pub (it starts with ssh-ed25519)");
            return text;
        }).ToList();
        return new AdminAccess(cidrs, keys);
    }
}

/// <summary>
/// Stack names come from file names and become directory names, resource names and Pulumi arguments: the tenant
/// rule keeps them plain (a name such as <c>sb$(id)</c> would otherwise reach a shell somewhere).
/// </summary>
public static class StackName
{
    public const string Rule = "lower-case letters, digits and '-', starting with a letter, at most 40 characters";

    public static bool IsValid(string name) => TenantName.IsValid(name);
}

/// <summary>
/// The rules of a DNS name a zone or record may have (RFC 1035 section 2.3.4: labels of 1 to 63 octets, a name of at
/// most 253 characters in text; RFC 952/1123 letters, digits and hyphens, with '_' for service labels such as _dmarc).
/// </summary>
public static class DnsZoneName
{
    /// <summary>What is wrong with the name, or null when it is a usable DNS name.</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0) return "it is empty (the root zone cannot be managed)";
        if (name.Length > 253) return $"longer than 253 characters ({name.Length})";
        foreach (var label in name.Split('.'))
        {
            if (label.Length == 0) return "it has an empty label (two dots in a row, or a leading dot)";
            if (label.Length > 63) return $"the label '{label[..20]}...' is longer than 63 characters ({label.Length})";
            if (label == "*") continue;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                return $"the label '{ConfigNode.Printable(label)}' holds a character other than letters, digits, '-' and '_'";
            if (label.StartsWith('-') || label.EndsWith('-')) return $"the label '{label}' starts or ends with '-'";
        }
        return null;
    }
}

/// <summary>Tenant names become database names, directory names and restic tags: keep them plain.</summary>
public static class TenantName
{
    public static bool IsValid(string name) =>
        name.Length is > 0 and <= 40 && char.IsAsciiLetterLower(name[0])
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}
