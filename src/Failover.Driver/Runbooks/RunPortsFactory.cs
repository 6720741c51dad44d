using Failover.Core.Backup;
using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
using Failover.Driver.Cloud;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Health;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Serilog;

namespace Failover.Driver.Runbooks;

/// <summary>What building a run's adapters needs: the topology, the target and the process's shared services.</summary>
public sealed record RunEnvironment(
    Topology Topology,
    StackSpec Target,
    RunStore Store,
    string ProjectDirectory,
    SecretRegistry Secrets,
    ILogger Log,
    TimeProvider Time,
    Action<string> Progress,
    Func<string, string?> Variable,
    IReadOnlyDictionary<string, string> PulumiEnvironment)
{
    /// <summary>False for a rehearsal: no DNS adapter is built, so nothing in the run can touch production DNS.</summary>
    public bool TouchesDns { get; init; } = true;

    /// <summary>Hears each tenant's restore progress (bytes, rate, ETA) for the operator's display.</summary>
    public Action<TransferProgress>? Transfer { get; init; }
}

/// <summary>Chooses the adapters of a run from the target's provider: processes for local sites, Pulumi for cloud ones.</summary>
public static class RunPortsFactory
{
    /// <summary>Environment variable with the local vault's restic password file or the PowerDNS API key.</summary>
    public const string DnsApiKeyVariable = Credentials.DnsApiKeyVariable;
    public const string PulumiVariable = "FAILOVER_PULUMI";

    internal static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(15) };

    public static RunPorts Create(RunEnvironment env) =>
        env.Target.Site.Provider == Provider.Local ? Local(env) : Cloud(env);

    /// <summary>The local provider's sites live here, beside the runs.</summary>
    public static LocalSites LocalSitesOf(RunStore store) => new(Path.Combine(store.Root, "sites"));

    /// <summary>A directory vault: the restic repository and its password file (path + ".password").</summary>
    public static ResticSettings LocalVault(Topology topology, string projectDirectory)
    {
        var vault = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory)
            ?? throw new InvalidOperationException("the local provider needs a vault of kind directory in failover:backup.vaults");
        return DirectoryVault(vault, projectDirectory);
    }

    private static RunPorts Local(RunEnvironment env)
    {
        var vault = LocalVaults(env);
        var restoreHooks = new RestoreHooks(env.Secrets);
        var tools = new PostgresTools();
        var dns = env.Topology.DnsStack?.Dns ?? throw new InvalidOperationException("the local provider needs a dns stack (PowerDNS)");
        var sites = LocalSitesOf(env.Store);
        var hooks = Hooks(env);
        return new RunPorts(
            vault,
            sites,
            new SiteRestorer(vault, repository => new Backup.TenantRestore(repository, tools, restoreHooks, env.Secrets, env.Log, env.Transfer),
                Core.Backup.RestoreOptions.Default with { Rehearsal = env.Target.Role == Role.Rehearsal }),
            new SiteGate(env.Topology, env.Secrets, env.Time, env.Log, TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1)),
            // Built when a step first moves DNS: a step that does not (a scale-down after --confirm) needs no API key.
            env.TouchesDns
                ? new LazyDns(() => PowerDns(env, dns, env.Variable(DnsApiKeyVariable) ?? throw new InvalidOperationException($"set {DnsApiKeyVariable} to the PowerDNS API key of {dns.Zone}")))
                : new NoDns())
        {
            Freeze = new Migration.HookFreeze(hooks, new PostgresFreeze(sites, env.Topology.Tenants)),
            SourceBackup = new Migration.LocalSourceBackup(env.Topology, sites, env.ProjectDirectory, env.Secrets, env.Time, env.Log, env.Progress),
            // A rehearsal copy never backs up into the vault (its steps have no backups step; nor does it get the adapter).
            Backups = env.Target.Role == Role.Rehearsal ? null
                : new LocalBackupAgents(env.Topology, sites, env.ProjectDirectory, vault, env.Secrets, env.Time, env.Log, env.Progress),
        };
    }

    /// <summary>The directory vaults the target restores from, in the order of failover:backup.vaults (<see cref="VaultOrder"/>).</summary>
    private static VaultSet LocalVaults(RunEnvironment env) =>
        new(VaultOrder.For(env.Topology, env.Target).Reads.Select(v => new VaultSource(v.Name, () => DirectoryVault(v, env.ProjectDirectory))).ToList(),
            env.Secrets, env.Time, env.Log);

    /// <summary>A directory vault's repository and its password file (path + ".password").</summary>
    public static ResticSettings DirectoryVault(StackSpec vault, string projectDirectory)
    {
        var path = Path.GetFullPath(vault.Vault!.Path ?? throw new InvalidOperationException($"{vault.Name}: failover:vault.path is not set"), projectDirectory);
        var passwordFile = path + ".password";
        if (!File.Exists(passwordFile))
            throw new InvalidOperationException($"the vault {path} has no password file {passwordFile} (written by `failover backup` when it creates the repository)");
        return new ResticSettings(path, File.ReadAllText(passwordFile).Trim());
    }

    /// <summary>The failover:migrate commands of the site a migration leaves; a command may take up to half an hour (a backup).</summary>
    private static Migration.SiteHooks Hooks(RunEnvironment env) => new(env.Topology.Tenants, env.Secrets, env.Log, TimeSpan.FromMinutes(30));

    private static IDnsSwitch PowerDns(RunEnvironment env, DnsSpec dns, string apiKey) =>
        new PowerDnsSwitch(dns, PowerDnsCutover.For(dns, apiKey, env.Secrets, env.Log),
            new AuthoritativeCheck(new WireDnsClient(), env.Time, env.Log), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1), env.Log);

    /// <summary>The pulumi CLI for this project: the executable from FAILOVER_PULUMI, else `pulumi` on the PATH.</summary>
    public static IPulumi Pulumi(string projectDirectory, Func<string, string?> variable, IReadOnlyDictionary<string, string> environment,
        SecretRegistry secrets, ILogger log, TimeProvider time) =>
        new PulumiCli(new PulumiOptions
        {
            ProjectDirectory = projectDirectory,
            Executable = variable(PulumiVariable) ?? "pulumi",
            Environment = environment,
        }, secrets, log, time);

    /// <summary>The pulumi CLI as a run uses it, in the run's project folder.</summary>
    public static IPulumi PulumiFor(RunEnvironment env) =>
        Pulumi(env.ProjectDirectory, env.Variable, env.PulumiEnvironment, env.Secrets, env.Log, env.Time);

    private static PulumiSites CloudSites(RunEnvironment env, IPulumi pulumi) => new(pulumi, Http, env.Log, env.Progress, TimeSpan.FromMinutes(5));

    /// <summary>
    /// The isolated copy a rehearsal of <paramref name="standby"/> runs on (<see cref="RunEnvironment.Target"/>):
    /// a local copy in <paramref name="localStateDirectory"/>, or the `&lt;standby&gt;-rehearsal` Pulumi stack.
    /// </summary>
    public static IRehearsalCopy RehearsalCopyOf(RunEnvironment env, StackSpec standby, string localStateDirectory)
    {
        if (env.Target.Site.Provider == Provider.Local)
            return new LocalRehearsalCopy(env.Target, new LocalSites(localStateDirectory, oneSite: true));
        var pulumi = PulumiFor(env);
        return new RehearsalStack(pulumi, CloudSites(env, pulumi), standby, env.Target, env.Progress, env.Log);
    }

    private static RunPorts Cloud(RunEnvironment env)
    {
        var pulumi = PulumiFor(env);
        // The S3 vaults the standby's cloud-init can restore from, in order; one whose outputs cannot be read is unreachable.
        var vault = new VaultSet(VaultOrder.For(env.Topology, env.Target).Reads.Select(v => new VaultSource(v.Name, () => CloudVault(v, pulumi))).ToList(),
            env.Secrets, env.Time, env.Log, oneVault: true);
        return new RunPorts(
            vault,
            new PulumiSites(pulumi, Http, env.Log, env.Progress, TimeSpan.FromMinutes(5)) { RestoreFromOf = vault.OtherVaultOfAsync },
            new CloudTenantRestorer(Http, env.Time, TimeSpan.FromHours(2), TimeSpan.FromSeconds(10),
                env.TouchesDns ? $"failover run --to {env.Target.Name}" : null),
            new SiteGate(env.Topology, env.Secrets, env.Time, env.Log, TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(5)),
            env.TouchesDns ? CloudDns(env, pulumi) : new NoDns())
        {
            // The driver cannot reach a cloud site's databases: its freeze and final backup are the site's own commands.
            Freeze = new Migration.HookFreeze(Hooks(env), null),
            SourceBackup = new Migration.HookSourceBackup(Hooks(env), vault, env.Topology.Tenants),
        };
    }

    private static IDnsSwitch CloudDns(RunEnvironment env, IPulumi pulumi)
    {
        var dnsStack = env.Topology.DnsStack ?? throw new InvalidOperationException("no dns stack: the cutover would have to be done by hand");
        var dns = dnsStack.Dns!;
        return dns.Provider == DnsProvider.PowerDns
            ? PowerDns(env, dns, env.Variable(DnsApiKeyVariable)
                ?? pulumi.GetConfigAsync(dnsStack.Name, "failover:dns.apiKey", path: true).GetAwaiter().GetResult()?.Value
                ?? throw new InvalidOperationException($"{dnsStack.Name} has no failover:dns.apiKey"))
            : new DnsStackSwitch(pulumi, dnsStack, new AuthoritativeCheck(new WireDnsClient(), env.Time, env.Log), env.Progress, env.Log);
    }

    /// <summary>A DNS switch built on first use.</summary>
    private sealed class LazyDns(Func<IDnsSwitch> build) : IDnsSwitch
    {
        private readonly Lazy<IDnsSwitch> _inner = new(build);
        public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            _inner.Value.PointAtAsync(target, addresses, cancellation);
        public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation) =>
            _inner.Value.PointAtAsync(target, addresses, ttlSeconds, cancellation);
        public Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            _inner.Value.WaitVisibleAsync(addresses, cancellation);
    }

    /// <summary>The DNS of a rehearsal: any use is a bug, refused before a record could change.</summary>
    private sealed class NoDns : IDnsSwitch
    {
        public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            throw new InvalidOperationException("a rehearsal never touches DNS");
        public Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation) =>
            throw new InvalidOperationException("a rehearsal never touches DNS");
        public Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            throw new InvalidOperationException("a rehearsal never touches DNS");
    }

    /// <summary>The restore side of a vault stack's outputs: repository, password and the read-only key.</summary>
    public static ResticSettings CloudVault(StackSpec vaultStack, IPulumi pulumi)
    {
        var outputs = pulumi.GetOutputsAsync(vaultStack.Name).GetAwaiter().GetResult();
        string Output(string key) => outputs.TryGetValue(key, out var v) && v.Text.Length > 0 ? v.Text
            : throw new InvalidOperationException($"vault stack {vaultStack.Name} has no output {key} (docs/stack-outputs.md): has it been deployed?");
        var credentials = new Dictionary<string, string>();
        if (outputs.ContainsKey(StackOutputs.ReaderAccessKeyId))
        {
            credentials["AWS_ACCESS_KEY_ID"] = Output(StackOutputs.ReaderAccessKeyId);
            credentials["AWS_SECRET_ACCESS_KEY"] = Output(StackOutputs.ReaderSecretAccessKey);
        }
        return new ResticSettings(Output(StackOutputs.ResticRepository), Output(StackOutputs.ResticPassword)) { Credentials = credentials };
    }
}
