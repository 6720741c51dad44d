namespace Failover.Core.Planning;

/// <summary>How long a probe, restore, hook or DNS wait may take and how often it polls, per provider kind.</summary>
/// <param name="Timeout">What may pass before the wait gives up (the step fails, naming what it waited for).</param>
/// <param name="Poll">How long between two looks.</param>
public sealed record Wait(TimeSpan Timeout, TimeSpan Poll);

/// <summary>
/// The driver's time limits in one place, validated when built: an impossible value is refused with the setting's name,
/// before any run starts. <see cref="Default"/> holds the documented defaults (docs/configuration.md#time-limits).
/// </summary>
public sealed class RuntimeOptions
{
    /// <summary>The defaults every run uses.</summary>
    public static RuntimeOptions Default { get; } = new();

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
    /// <param name="reportFiling">A cloud site's data server filing the report into the vault, read back by the driver.</param>
    /// <param name="restorePoint">Offering a booting data server its restore point by signed request, until its daemon takes it (boot and apt first).</param>
    public RuntimeOptions(Wait? localGate = null, Wait? cloudGate = null, Wait? dnsVisible = null, Wait? cloudRestore = null,
        TimeSpan? fence = null, TimeSpan? migrateHook = null, TimeSpan? http = null, TimeSpan? firstBackup = null,
        TimeSpan? pulumiUp = null, TimeSpan? pulumiDestroy = null, TimeSpan? pulumiCommand = null, TimeSpan? reportFiling = null, Wait? restorePoint = null)
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
        ReportFiling = Positive("reportFiling", reportFiling ?? TimeSpan.FromMinutes(2));
        RestorePoint = Check("restorePoint", restorePoint ?? new Wait(TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(5)));
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
    public TimeSpan ReportFiling { get; }
    public Wait RestorePoint { get; }

    private static TimeSpan Positive(string name, TimeSpan value) => value > TimeSpan.Zero ? value
        : throw new ArgumentOutOfRangeException(name, value,
            $"runtime option {name} is {value}: a time limit must be longer than zero. Fix: give {name} a positive duration (the defaults are in docs/configuration.md#time-limits)");

    private static Wait Check(string name, Wait wait)
    {
        Positive($"{name}.timeout", wait.Timeout);
        Positive($"{name}.poll", wait.Poll);
        if (wait.Poll > wait.Timeout)
            throw new ArgumentOutOfRangeException(name, wait,
                $"runtime option {name} polls every {wait.Poll} but gives up after {wait.Timeout}: the poll must not be longer than the timeout. " +
                $"Fix: shorten {name}.poll or lengthen {name}.timeout (the defaults are in docs/configuration.md#time-limits)");
        return wait;
    }
}
