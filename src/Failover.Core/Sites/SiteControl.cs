using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// One control request a server's health daemon takes (the scheme of <see cref="BackupControl"/>: signed with the site's
/// control key, fresh, its nonce unseen): its name, the trigger file the daemon writes for the root unit that acts, the
/// file that unit writes its outcome into, the member of the answer that carries it, and whether the server's restore
/// must have finished first.
/// </summary>
public sealed record ControlAction(string Name, string Trigger, string StateFile, string AnswerKey, bool AfterRestore);

/// <summary>
/// The control requests each server takes, as a table the health daemon is rendered from: the data server's agent start
/// (<see cref="BackupControl"/>) and the fence's stop on every server (<see cref="ApplicationStop"/>). A server without
/// the site's key (a rehearsal copy) takes none.
/// </summary>
public static class SiteControl
{
    /// <summary>After a cutover: start the data server's backup agent (<see cref="BackupControl.StartBackups"/>).</summary>
    public static readonly ControlAction StartBackups = new(BackupControl.StartBackups, BackupControl.TriggerName, BackupControl.TimerStateName, "timer", AfterRestore: true);

    /// <summary>The fence, before its `pulumi up` closes the ports: stop the application and keep it stopped (<see cref="ApplicationStop"/>).</summary>
    public static readonly ControlAction StopApplication = new(ApplicationStop.Action, ApplicationStop.Action, "application-state", "application", AfterRestore: false);

    /// <summary>
    /// The actions <paramref name="boot"/>'s daemon takes: none without a key; the agent's start beside its agent; the stop
    /// on every keyed server that has room for it (<see cref="ServerBootstrap.TakesStop"/>).
    /// </summary>
    public static IReadOnlyList<ControlAction> ActionsOf(ServerBootstrap boot, bool keyed) =>
        !keyed ? [] : [.. boot.Backup is not null ? [StartBackups] : Array.Empty<ControlAction>(), .. boot.TakesStop ? [StopApplication] : Array.Empty<ControlAction>()];

    /// <summary>
    /// Whether a site's servers get the control key (infra/ generates it, exported as <see cref="StackOutputs.ControlKey"/>):
    /// production and standbys, which can serve and so can be fenced; never a rehearsal copy, which takes no request.
    /// </summary>
    public static bool HasKey(StackSpec stack) => stack.Role is Role.Production or Role.Standby;
}

/// <summary>
/// What the fence's stop request does on a server, as root (the daemon cannot act on units itself: it writes the trigger
/// and <see cref="PathUnit"/> starts <see cref="StopUnit"/>): it leaves <see cref="Marker"/>, which the application's unit
/// has as a condition (a drop-in), so the application does not start again on a reboot; stops the application's unit
/// (<c>failover:service.unit</c>); and on the data server disables the backup agent's timer (a returning old primary
/// pushes no sets into the vault) and makes PostgreSQL listen on localhost only, so nothing on the site network reaches
/// the database: Hetzner firewalls do not filter private networks (docs.hetzner.com/cloud/firewalls/faq). Idempotent.
/// </summary>
public static class ApplicationStop
{
    public const string Action = "stop-application";
    public const string Marker = "/var/lib/failover/fenced";
    public const string ScriptPath = "/usr/local/sbin/failover-stop";
    public const string PathUnit = "failover-stop.path";
    public const string StopUnit = "failover-stop.service";

    /// <summary>PostgreSQL reads conf.d in file name order: this one comes after the bootstrap's <c>failover.conf</c> and wins.</summary>
    public const string PostgresConf = "zz-failover-fenced.conf";

    /// <summary>The drop-in that keeps the application's unit from starting while the marker exists.</summary>
    public static string DropInPath(string unit) => $"/etc/systemd/system/{unit}.d/failover-fenced.conf";

    public static string DropInText() => $"[Unit]\nConditionPathExists=!{Marker}\n";

    /// <summary>The command that does by hand what the request does, for a server the request did not reach.</summary>
    public static string ByHand(ServiceSettings service) =>
        $"sudo touch {Marker}" + (service.Unit is { } unit ? $" && sudo systemctl stop {Sh.Quote(unit)}" : "");

    // No descriptions: every byte of the data server's user data counts against AWS's 16 KB beside a large restore.
    public static string PathUnitText() =>
        $"[Path]\nPathChanged=/var/lib/private/{BackupControl.StateDirectory}/{SiteControl.StopApplication.Trigger}\nUnit={StopUnit}\n[Install]\nWantedBy=paths.target\n";

    public static string StopUnitText() => $"[Service]\nType=oneshot\nExecStart={ScriptPath}\n";

    /// <summary>The root script <see cref="StopUnit"/> runs on <paramref name="boot"/>'s server; its last line is the outcome the daemon answers with.</summary>
    public static string Script(ServerBootstrap boot)
    {
        var lines = new List<string> { "#!/bin/sh", $"r=0 d=marked; mkdir -p /var/lib/failover && touch {Marker} || r=1" };
        if (boot.Service.Unit is { } unit)
            lines.Add($"systemctl stop {Sh.Quote(unit)} && d=$d,stopped || r=1");
        if (boot.Backup is not null)
            lines.Add($"systemctl disable --now -q {BackupAgent.Timer} && systemctl stop {BackupAgent.Service} && d=$d,backups-stopped || r=1");
        if (boot.InstallsDatabase)
            lines.Add($"for c in /etc/postgresql/*/main; do echo \"listen_addresses='localhost'\" > $c/conf.d/{PostgresConf}; done; systemctl restart postgresql && d=$d,database-local || r=1");
        lines.Add($"[ $r = 0 ] || d=$d,failed; echo $d > /var/lib/private/{BackupControl.StateDirectory}/{SiteControl.StopApplication.StateFile}; exit $r");
        return string.Join('\n', lines) + "\n";
    }
}
