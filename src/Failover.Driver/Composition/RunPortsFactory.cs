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
using Failover.Driver.Reports;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Composition;

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

    /// <summary>The time limits of probes, restores, hooks and DNS waits.</summary>
    public RuntimeOptions Options { get; init; } = RuntimeOptions.Default;
}

/// <summary>
/// The composition root of a run: chooses the adapters from the target's provider (processes for local sites, Pulumi for
/// cloud ones) and gives each its time limits from <see cref="RunEnvironment.Options"/>. What needs a provider's answer
/// (a vault stack's outputs, a DNS API key in a stack's config) is read asynchronously when a step first uses it.
/// </summary>
public static class RunPortsFactory
{
    /// <summary>Environment variable with the local vault's restic password file or the PowerDNS API key.</summary>
    public const string DnsApiKeyVariable = Credentials.DnsApiKeyVariable;
    public const string PulumiVariable = "FAILOVER_PULUMI";

    /// <summary>The driver's HTTP client for health URLs and documents, each request within runtime option http.</summary>
    public static HttpClient HttpFor(RuntimeOptions options) => new() { Timeout = options.Http };

    /// <summary>
    /// The run's adapters for its target. Asynchronous like everything a step awaits: nothing here or in the adapters it
    /// builds waits on a provider's answer by blocking a thread (a cloud vault's outputs are read when first opened).
    /// </summary>
    public static Task<RunPorts> CreateAsync(RunEnvironment env, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        return Task.FromResult(env.Target.Site.Provider == Provider.Local ? Local(env) : Cloud(env));
    }

    /// <summary>The local provider's sites live here, beside the runs.</summary>
    public static LocalSites LocalSitesOf(RunStore store, RuntimeOptions? options = null) =>
        new(Path.Combine(store.Root, "sites")) { DatabaseStart = (options ?? RuntimeOptions.Default).LocalDatabaseStart, ServingProbe = (options ?? RuntimeOptions.Default).TcpProbe };

    /// <summary>A directory vault: the restic repository and its password file (path + ".password").</summary>
    public static ResticSettings LocalVault(Topology topology, string projectDirectory) => VaultSettings.Local(topology, projectDirectory);

    private static RunPorts Local(RunEnvironment env)
    {
        var vault = LocalVaults(env);
        var restoreHooks = new RestoreHooks(env.Secrets);
        var tools = new PostgresTools();
        var dns = env.Topology.DnsStack?.Dns ?? throw new InvalidOperationException("the local provider needs a dns stack (PowerDNS)");
        var sites = LocalSitesOf(env.Store, env.Options);
        var hooks = Hooks(env);
        return new RunPorts(
            vault,
            sites,
            sites,
            new SiteRestorer(vault, repository => new Backup.TenantRestore(repository, tools, restoreHooks, env.Secrets, env.Log, env.Transfer),
                Core.Backup.RestoreOptions.Default with { Rehearsal = env.Target.Role == Role.Rehearsal }),
            Gate(env, env.Options.LocalGate),
            sites,
            sites,
            // Built when a step first moves DNS: a step that does not (a scale-down after --confirm) needs no API key.
            env.TouchesDns
                ? new LazyDns(() => PowerDns(env, dns, env.Variable(DnsApiKeyVariable) ?? throw new InvalidOperationException($"set {DnsApiKeyVariable} to the PowerDNS API key of {dns.Zone}")))
                : new NoDns(),
            new Migration.HookFreeze(hooks, new PostgresFreeze(sites, env.Topology.Tenants)),
            new Migration.LocalSourceBackup(env.Topology, sites, env.ProjectDirectory, env.Secrets, env.Time, env.Log, env.Progress))
        {
            // A rehearsal copy never backs up into the vault (its runbook has no backups step, nor does it get the adapter).
            Backups = env.Target.Role == Role.Rehearsal ? new AgentsStartedByHand()
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

    private static SiteGate Gate(RunEnvironment env, Wait wait) =>
        new(env.Topology, env.Secrets, env.Time, env.Log, wait.Timeout, wait.Poll, env.Options.Probe, env.Options.TcpProbe);

    /// <summary>The verifying DNS check: each authoritative server asked itself, each question within runtime option dnsQuery.</summary>
    private static AuthoritativeCheck Authoritative(RunEnvironment env) => new(new WireDnsClient(env.Options.DnsQuery), env.Time, env.Log);

    /// <summary>The failover:migrate commands of the site a migration leaves; a command may take long (a backup).</summary>
    private static Migration.SiteHooks Hooks(RunEnvironment env) => new(env.Topology.Tenants, env.Secrets, env.Log, env.Options.MigrateHook);

    private static IDnsSwitch PowerDns(RunEnvironment env, DnsSpec dns, string apiKey) =>
        new PowerDnsSwitch(dns, PowerDnsCutover.For(dns, apiKey, env.Secrets, env.Log, env.Options.Http),
            Authoritative(env), env.Options.DnsVisible.Timeout, env.Options.DnsVisible.Poll, env.Log);

    /// <summary>The pulumi CLI for this project: the executable from FAILOVER_PULUMI, else `pulumi` on the PATH.</summary>
    /// <param name="options">The time limits of its commands (runtime options pulumiUp, pulumiDestroy, pulumiCommand).</param>
    public static IPulumi Pulumi(string projectDirectory, Func<string, string?> variable, IReadOnlyDictionary<string, string> environment,
        SecretRegistry secrets, ILogger log, TimeProvider time, RuntimeOptions? options = null) =>
        new PulumiCli(PulumiOptions.From(options ?? RuntimeOptions.Default) with
        {
            ProjectDirectory = projectDirectory,
            Executable = variable(PulumiVariable) ?? "pulumi",
            Environment = environment,
        }, secrets, log, time);

    /// <summary>The pulumi CLI as a run uses it, in the run's project folder.</summary>
    public static IPulumi PulumiFor(RunEnvironment env) =>
        Pulumi(env.ProjectDirectory, env.Variable, env.PulumiEnvironment, env.Secrets, env.Log, env.Time, env.Options);

    /// <summary>The cloud sites; the standby is told the vault its restore point comes from (failover:restoreFrom) by <paramref name="vaults"/>.</summary>
    private static PulumiSites CloudSites(RunEnvironment env, IPulumi pulumi, VaultSet vaults, HttpClient control) =>
        new(pulumi, HttpFor(env.Options), env.Log, env.Progress, env.Options.Fence)
        {
            RestoreFromOf = vaults.OtherVaultOfAsync, Control = control, StopTimeout = env.Options.ApplicationStop, ServingProbe = env.Options.Probe, Time = env.Time,
            Topology = env.Topology, RestorePointWait = env.Options.RestorePoint.Timeout, RestorePointPoll = env.Options.RestorePoint.Poll,
        };

    /// <summary>The client of a run's signed control requests, each within runtime option controlRequest.</summary>
    private static HttpClient Control(RunEnvironment env) => ControlRequests.ClientWithin(env.Options.ControlRequest);

    /// <summary>
    /// The filing of a cloud run's evidence into the vaults by the serving site's data server (<see cref="RunEnvironment.Target"/>),
    /// which holds the vaults' write keys; the driver reads the copies back.
    /// </summary>
    public static CloudReportFiling ReportFiling(RunEnvironment env) =>
        new(PulumiFor(env), Control(env), env.Secrets, env.Time, env.Log, env.Options.ReportFiling);

    /// <summary>
    /// The isolated copy a rehearsal of <paramref name="standby"/> runs on (<see cref="RunEnvironment.Target"/>):
    /// a local copy in <paramref name="localStateDirectory"/>, or the `&lt;standby&gt;-rehearsal` Pulumi stack.
    /// </summary>
    public static IRehearsalCopy RehearsalCopyOf(RunEnvironment env, StackSpec standby, string localStateDirectory)
    {
        if (env.Target.Site.Provider == Provider.Local)
            return new LocalRehearsalCopy(env.Target, new LocalSites(localStateDirectory, oneSite: true) { DatabaseStart = env.Options.LocalDatabaseStart, ServingProbe = env.Options.TcpProbe });
        var pulumi = PulumiFor(env);
        // The copy's cloud-init restores from one vault, the one select-backup read the snapshots from: pinned like a failover's.
        return new RehearsalStack(pulumi, CloudSites(env, pulumi, CloudVaults(env, pulumi), Control(env)), standby, env.Target, env.Progress, env.Log);
    }

    /// <summary>
    /// The S3 vaults the target's cloud-init can restore from, in order, every tenant from one; a vault stack's outputs are
    /// read when a step first needs that vault (one whose outputs cannot be read is unreachable).
    /// </summary>
    private static VaultSet CloudVaults(RunEnvironment env, IPulumi pulumi) =>
        new(VaultOrder.For(env.Topology, env.Target).Reads
                .Select(v => new VaultSource(v.Name, ct => VaultSettings.CloudAsync(v, pulumi, ct))).ToList(),
            env.Secrets, env.Time, env.Log, oneVault: true);

    private static RunPorts Cloud(RunEnvironment env)
    {
        var pulumi = PulumiFor(env);
        var vault = CloudVaults(env, pulumi);
        var control = Control(env);
        var sites = CloudSites(env, pulumi, vault, control);
        return new RunPorts(
            vault,
            sites,
            sites,
            new CloudTenantRestorer(HttpFor(env.Options), env.Time, env.Options.CloudRestore.Timeout, env.Options.CloudRestore.Poll,
                env.TouchesDns ? $"failover run --to {env.Target.Name}" : null, env.Transfer),
            Gate(env, env.Options.CloudGate),
            sites,
            sites,
            env.TouchesDns ? CloudDns(env, pulumi) : new NoDns(),
            // The driver cannot reach a cloud site's databases: its freeze and final backup are the site's own commands.
            new Migration.HookFreeze(Hooks(env), null),
            new Migration.HookSourceBackup(Hooks(env), vault.FirstReachableAsync, env.Topology.Tenants))
        {
            // A rehearsal copy has no agent and no key (its runbook has no backups step either).
            Backups = env.Target.Role == Role.Rehearsal ? new AgentsStartedByHand()
                : new CloudBackupAgents(pulumi, control, vault, env.Topology, env.Time, env.Log, env.Options.CloudRestore.Poll),
        };
    }

    /// <summary>The cloud DNS switch; a PowerDNS API key kept in the dns stack's config is read when DNS is first moved.</summary>
    private static IDnsSwitch CloudDns(RunEnvironment env, IPulumi pulumi)
    {
        var dnsStack = env.Topology.DnsStack ?? throw new InvalidOperationException("no dns stack: the cutover would have to be done by hand");
        var dns = dnsStack.Dns!;
        if (dns.Provider != DnsProvider.PowerDns)
            return new DnsStackSwitch(pulumi, dnsStack, Authoritative(env), env.Progress, env.Log, env.Options.DnsVisible);
        return new LazyDns(async ct => PowerDns(env, dns, env.Variable(DnsApiKeyVariable)
            ?? (await pulumi.GetConfigAsync(dnsStack.Name, "failover:dns.apiKey", path: true, ct))?.Value
            ?? throw new InvalidOperationException($"{dnsStack.Name} has no failover:dns.apiKey")));
    }

    /// <summary>A DNS switch built on first use: a step that moves no DNS (a scale-down after --confirm) needs no API key.</summary>
    private sealed class LazyDns(Func<CancellationToken, Task<IDnsSwitch>> build) : IDnsSwitch
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private IDnsSwitch? _inner;

        public LazyDns(Func<IDnsSwitch> build) : this(_ => Task.FromResult(build())) { }

        private async Task<IDnsSwitch> InnerAsync(CancellationToken cancellation)
        {
            if (_inner is { } built) return built;
            await _gate.WaitAsync(cancellation);
            try { return _inner ??= await build(cancellation); }
            finally { _gate.Release(); }
        }

        public async Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            await (await InnerAsync(cancellation)).PointAtAsync(target, addresses, cancellation);
        public async Task<string> PointAtAsync(StackSpec target, IReadOnlyList<string> addresses, int ttlSeconds, CancellationToken cancellation) =>
            await (await InnerAsync(cancellation)).PointAtAsync(target, addresses, ttlSeconds, cancellation);
        public async Task<DateTimeOffset> WaitVisibleAsync(IReadOnlyList<string> addresses, CancellationToken cancellation) =>
            await (await InnerAsync(cancellation)).WaitVisibleAsync(addresses, cancellation);
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
}
