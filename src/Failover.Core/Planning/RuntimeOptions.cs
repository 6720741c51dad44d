namespace Failover.Core.Planning;

/// <summary>How long a probe, restore, hook or DNS wait may take and how often it polls, per provider kind.</summary>
/// <param name="Timeout">What may pass before the wait gives up (the step fails, naming what it waited for).</param>
/// <param name="Poll">How long between two looks.</param>
public sealed record Wait(TimeSpan Timeout, TimeSpan Poll);

/// <summary>A time limit refused when the options are built: the setting (a key under failover:timeLimits), what is wrong, the fix.</summary>
public sealed class RuntimeOptionException(string setting, string problem, string fix)
    : ArgumentException($"runtime option {setting} {problem}. Fix: {fix}", setting)
{
    public string Setting { get; } = setting;
    public string Problem { get; } = problem;
    public string Fix { get; } = fix;
}

/// <summary>
/// The driver's time limits in one place, validated when built: an impossible value is refused with the setting's name,
/// before any run starts. <see cref="Default"/> holds the documented defaults (docs/configuration.md#time-limits); an
/// operator changes them with <c>failover:timeLimits</c> in the production stack file (<see cref="From"/>).
/// </summary>
public sealed class RuntimeOptions
{
    /// <summary>The defaults every run uses.</summary>
    public static RuntimeOptions Default { get; } = new();

    /// <summary>The settings that are waits (a timeout and a poll), by the name <c>failover:timeLimits</c> gives them.</summary>
    public static readonly IReadOnlyList<string> Waits = ["localGate", "cloudGate", "dnsVisible", "cloudRestore", "restorePoint", "reportFiling"];

    /// <summary>The settings that are one limit each, by the name <c>failover:timeLimits</c> gives them.</summary>
    public static readonly IReadOnlyList<string> Limits =
    [
        "fence", "migrateHook", "http", "firstBackup", "pulumiUp", "pulumiDestroy", "pulumiCommand",
        "probe", "tcpProbe", "dnsQuery", "applicationStop", "runState", "controlRequest", "localDatabaseStart", "lockLease",
    ];

    /// <param name="localGate">The health gate of a local site: processes on this host answer within seconds.</param>
    /// <param name="cloudGate">The health gate of a cloud site: servers still booting and restoring in cloud-init.</param>
    /// <param name="dnsVisible">Until every authoritative server answers the new records.</param>
    /// <param name="cloudRestore">A cloud site's restore in cloud-init, read from its health document.</param>
    /// <param name="fence">`pulumi up` fencing a former primary whose provider may not answer.</param>
    /// <param name="migrateHook">One failover:migrate command (freeze, thaw, backup): a backup may take long.</param>
    /// <param name="http">One HTTP request of the driver (health URLs, health documents, the PowerDNS API).</param>
    /// <param name="firstBackup">After a cutover, how long the run waits for the new serving site's first backup before it reports it pending.</param>
    /// <param name="pulumiUp">One `pulumi up` (provisioning a site, fencing aside); its process tree is killed when it passes.</param>
    /// <param name="pulumiDestroy">One `pulumi destroy` (a rehearsal copy's teardown, a retired site removed).</param>
    /// <param name="pulumiCommand">One quick pulumi command: stack and config commands, outputs, cancel.</param>
    /// <param name="reportFiling">A cloud site's data server filing the report into the vault, read back by the driver (looked for every poll).</param>
    /// <param name="restorePoint">Offering a booting data server its restore point by signed request, until its daemon takes it (boot and apt first).</param>
    /// <param name="probe">One HTTP or PostgreSQL probe of a health gate (the gate polls again after a probe that failed); a cloud site's health URL asked whether it serves.</param>
    /// <param name="tcpProbe">One TCP connection attempt of a health gate.</param>
    /// <param name="dnsQuery">One question to one authoritative DNS server (UDP, then TCP when the answer is truncated).</param>
    /// <param name="applicationStop">The signed stop requests to the servers of a site being fenced, all together, before its firewall closes.</param>
    /// <param name="runState">One request to the shared run state on S3 (lock, journal records, reports).</param>
    /// <param name="controlRequest">One signed control request to a cloud data server (start its agent, its restore point, file the report).</param>
    /// <param name="localDatabaseStart">A local site's PostgreSQL starting (`pg_ctl start`), e.g. after a crash recovery.</param>
    /// <param name="lockLease">The run lock's lease: a holder that stops renewing it (every third of it) loses the lock this long after
    /// its last renewal; at least 1.5 × runState, so that a renewal as slow as runState allows still lands before the lease ends.</param>
    public RuntimeOptions(Wait? localGate = null, Wait? cloudGate = null, Wait? dnsVisible = null, Wait? cloudRestore = null,
        TimeSpan? fence = null, TimeSpan? migrateHook = null, TimeSpan? http = null, TimeSpan? firstBackup = null,
        TimeSpan? pulumiUp = null, TimeSpan? pulumiDestroy = null, TimeSpan? pulumiCommand = null, Wait? reportFiling = null, Wait? restorePoint = null,
        TimeSpan? probe = null, TimeSpan? tcpProbe = null, TimeSpan? dnsQuery = null, TimeSpan? applicationStop = null,
        TimeSpan? runState = null, TimeSpan? controlRequest = null, TimeSpan? localDatabaseStart = null, TimeSpan? lockLease = null)
    {
        LocalGate = Check("localGate", localGate ?? new Wait(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1)));
        CloudGate = Check("cloudGate", cloudGate ?? new Wait(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(5)));
        DnsVisible = Check("dnsVisible", dnsVisible ?? new Wait(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1)));
        CloudRestore = Check("cloudRestore", cloudRestore ?? new Wait(TimeSpan.FromHours(2), TimeSpan.FromSeconds(10)));
        Fence = Positive("fence", fence ?? TimeSpan.FromMinutes(5));
        MigrateHook = Positive("migrateHook", migrateHook ?? TimeSpan.FromMinutes(30));
        Http = Positive("http", http ?? TimeSpan.FromSeconds(15));
        FirstBackup = Positive("firstBackup", firstBackup ?? TimeSpan.FromMinutes(10));
        PulumiUp = Positive("pulumiUp", pulumiUp ?? TimeSpan.FromMinutes(30));
        PulumiDestroy = Positive("pulumiDestroy", pulumiDestroy ?? TimeSpan.FromMinutes(30));
        PulumiCommand = Positive("pulumiCommand", pulumiCommand ?? TimeSpan.FromMinutes(2));
        ReportFiling = Check("reportFiling", reportFiling ?? new Wait(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(3)));
        RestorePoint = Check("restorePoint", restorePoint ?? new Wait(TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(5)));
        Probe = Positive("probe", probe ?? TimeSpan.FromSeconds(5));
        TcpProbe = Positive("tcpProbe", tcpProbe ?? TimeSpan.FromSeconds(3));
        DnsQuery = Positive("dnsQuery", dnsQuery ?? TimeSpan.FromSeconds(2));
        ApplicationStop = Positive("applicationStop", applicationStop ?? TimeSpan.FromSeconds(15));
        RunState = Positive("runState", runState ?? TimeSpan.FromSeconds(20));
        ControlRequest = Positive("controlRequest", controlRequest ?? TimeSpan.FromSeconds(30));
        LocalDatabaseStart = Positive("localDatabaseStart", localDatabaseStart ?? TimeSpan.FromSeconds(60));
        LockLease = Positive("lockLease", lockLease ?? TimeSpan.FromSeconds(60));
        // Renewed every third of the lease, each renewal one run-state request: it must land before the lease ends.
        if (LockLease / 3 + RunState > LockLease)
            throw new RuntimeOptionException("lockLease", $"is {LockLease} with runState {RunState}: a renewal sent a third into the lease and taking runState would land after the lease ended",
                $"set {KeyOf("lockLease")} to at least 1.5 × runState ({RunState * 1.5}) or shorten {KeyOf("runState")} in the production stack file (docs/configuration.md#time-limits)");
    }

    /// <summary>
    /// The options with the settings an operator named (<c>failover:timeLimits</c>); every other one keeps its default, as
    /// does the half of a wait left out (its timeout or its poll).
    /// </summary>
    /// <exception cref="RuntimeOptionException">A value no run could use, named by its setting.</exception>
    public static RuntimeOptions From(IReadOnlyDictionary<string, (TimeSpan? Timeout, TimeSpan? Poll)> waits, IReadOnlyDictionary<string, TimeSpan> limits)
    {
        var d = Default;
        Wait W(string name, Wait fallback) =>
            // A timeout shorter than the default poll, given alone, polls at that timeout (a value valid as a single limit before stays valid).
            waits.TryGetValue(name, out var w) ? new Wait(w.Timeout ?? fallback.Timeout, w.Poll ?? Min(fallback.Poll, w.Timeout ?? fallback.Timeout)) : fallback;
        static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
        TimeSpan L(string name, TimeSpan fallback) => limits.GetValueOrDefault(name, fallback);
        return new RuntimeOptions(
            W("localGate", d.LocalGate), W("cloudGate", d.CloudGate), W("dnsVisible", d.DnsVisible), W("cloudRestore", d.CloudRestore),
            L("fence", d.Fence), L("migrateHook", d.MigrateHook), L("http", d.Http), L("firstBackup", d.FirstBackup),
            L("pulumiUp", d.PulumiUp), L("pulumiDestroy", d.PulumiDestroy), L("pulumiCommand", d.PulumiCommand), W("reportFiling", d.ReportFiling),
            W("restorePoint", d.RestorePoint), L("probe", d.Probe), L("tcpProbe", d.TcpProbe), L("dnsQuery", d.DnsQuery),
            L("applicationStop", d.ApplicationStop), L("runState", d.RunState), L("controlRequest", d.ControlRequest),
            L("localDatabaseStart", d.LocalDatabaseStart), L("lockLease", d.LockLease));
    }

    public Wait LocalGate { get; }
    public Wait CloudGate { get; }
    public Wait DnsVisible { get; }
    public Wait CloudRestore { get; }
    public TimeSpan Fence { get; }
    public TimeSpan MigrateHook { get; }
    public TimeSpan Http { get; }
    public TimeSpan FirstBackup { get; }
    public TimeSpan PulumiUp { get; }
    public TimeSpan PulumiDestroy { get; }
    public TimeSpan PulumiCommand { get; }
    public Wait ReportFiling { get; }
    public Wait RestorePoint { get; }
    public TimeSpan Probe { get; }
    public TimeSpan TcpProbe { get; }
    public TimeSpan DnsQuery { get; }
    public TimeSpan ApplicationStop { get; }
    public TimeSpan RunState { get; }
    public TimeSpan ControlRequest { get; }
    public TimeSpan LocalDatabaseStart { get; }
    public TimeSpan LockLease { get; }

    /// <summary>
    /// How long a run interrupted by Ctrl-C may take to leave a consistent state before the process is ended: its compensation
    /// (a migration's thaw hook, a rehearsal copy's `pulumi destroy`, the longer of the two), then 15 minutes for the journal,
    /// the report and a pulumi cancel. Derived, not set: a process ended anyway leaves a journal `resume` or `abort` completes.
    /// </summary>
    public TimeSpan AfterInterrupt => (MigrateHook > PulumiDestroy ? MigrateHook : PulumiDestroy) + TimeSpan.FromMinutes(15);

    /// <summary>The stack-file key of a setting (in the production stack file), for the fix of a message that tells an operator to change it.</summary>
    public static string KeyOf(string setting) => "failover:timeLimits." + setting;

    private static TimeSpan Positive(string name, TimeSpan value) => value > TimeSpan.Zero ? value
        : throw new RuntimeOptionException(name, $"is {value}: a time limit must be longer than zero",
            $"set {KeyOf(name)} in the production stack file to a positive duration, or remove it for the default (docs/configuration.md#time-limits)");

    private static Wait Check(string name, Wait wait)
    {
        Positive($"{name}.timeout", wait.Timeout);
        Positive($"{name}.poll", wait.Poll);
        if (wait.Poll > wait.Timeout)
            throw new RuntimeOptionException(name, $"polls every {wait.Poll} but gives up after {wait.Timeout}: the poll must not be longer than the timeout",
                $"shorten {KeyOf(name)}.poll or lengthen {KeyOf(name)}.timeout in the production stack file (docs/configuration.md#time-limits)");
        return wait;
    }
}
