using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>
/// Which control requests (<see cref="BackupControl.Actions"/>, one scheme: signed with the site's control key, fresh,
/// its nonce unseen) each server's health daemon takes: the data server's agent start and report filing beside its
/// agent, and the fence's stop (<see cref="ApplicationStop"/>) on every server. A server without the site's key (a
/// rehearsal copy) takes none.
/// </summary>
public static class SiteControl
{
    /// <summary>
    /// The actions <paramref name="boot"/>'s daemon takes: none without a key; the agent's start and the report filing
    /// beside its agent; the stop on every keyed server that has room for it (<see cref="ServerBootstrap.TakesStop"/>); the
    /// restore point on a data server that waits for it (<see cref="ServerBootstrap.RestorePointByRequest"/>).
    /// </summary>
    public static IReadOnlyList<string> ActionsOf(ServerBootstrap boot, bool keyed) =>
        !keyed ? [] : BackupControl.Actions.Keys.Where(a => a switch
        {
            ApplicationStop.Action => boot.TakesStop,
            BackupControl.RestorePoint => boot.RestorePointByRequest && boot.Restore is not null,
            _ => boot.Backup is not null,
        }).ToList();

    /// <summary>
    /// Whether a site's servers get the control key (infra/ generates it, exported as <see cref="StackOutputs.ControlKey"/>):
    /// production and standbys, which can serve and so can be fenced; never a rehearsal copy, which takes no request.
    /// </summary>
    public static bool HasKey(StackSpec stack) => stack.Role is Role.Production or Role.Standby;
}

/// <summary>
/// What the fence's stop request does on a server, as root (the unprivileged daemon queues it; the root unit of
/// <see cref="BackupControl"/> checks it again and runs <see cref="ScriptPath"/>): it leaves <see cref="Marker"/>, which the
/// application's unit has as a condition (a drop-in), so the application does not start again on a reboot; stops the
/// application's unit (<c>failover:service.unit</c>); and on the data server disables the backup agent's timer (a
/// returning old primary pushes no sets into the vault) and makes PostgreSQL listen on localhost only, so nothing on the
/// site network reaches the database: Hetzner firewalls do not filter private networks (docs.hetzner.com/cloud/firewalls/faq).
/// Idempotent.
/// </summary>
public static class ApplicationStop
{
    public const string Action = "stop-application";
    public const string Marker = "/var/lib/failover/fenced";
    public const string ScriptPath = "/usr/local/sbin/failover-stop";
    /// <summary>PostgreSQL reads conf.d in file name order: this one comes after the bootstrap's <c>failover.conf</c> and wins.</summary>
    public const string PostgresConf = "zz-failover-fenced.conf";

    /// <summary>The drop-in that keeps the application's unit from starting while the marker exists.</summary>
    public static string DropInPath(string unit) => $"/etc/systemd/system/{unit}.d/failover-fenced.conf";

    public static string DropInText() => $"[Unit]\nConditionPathExists=!{Marker}\n";

    /// <summary>The command that does by hand what the request does, for a server the request did not reach.</summary>
    public static string ByHand(ServiceSettings service) =>
        $"sudo touch {Marker}" + (service.Unit is { } unit ? $" && sudo systemctl stop {Sh.Quote(unit)}" : "");

    /// <summary>The root script the stop runs on <paramref name="boot"/>'s server; its last line is the outcome the daemon answers with.</summary>
    public static string Script(ServerBootstrap boot)
    {
        var lines = new List<string> { "#!/bin/sh", $"r=0 d=marked; mkdir -p /var/lib/failover && touch {Marker} || r=1" };
        if (boot.Service.Unit is { } unit)
            lines.Add($"systemctl stop {Sh.Quote(unit)} && d=$d,stopped || r=1");
        if (boot.Backup is not null)
            // A standby's agent arrives with its start request: before that there is no timer to stop.
            lines.Add($"{{ systemctl disable --now -q {BackupAgent.Timer}; systemctl stop {BackupAgent.Service}; }} 2> /dev/null; d=$d,backups-stopped");
        if (boot.InstallsDatabase)
            lines.Add($"for c in /etc/postgresql/*/main; do echo \"listen_addresses='localhost'\" > $c/conf.d/{PostgresConf}; done; systemctl restart postgresql && d=$d,database-local || r=1");
        lines.Add("[ $r = 0 ] || d=$d,failed; echo $d; exit $r");
        return string.Join('\n', lines) + "\n";
    }
}
