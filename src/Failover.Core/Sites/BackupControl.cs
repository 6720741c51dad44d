using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Failover.Core.Sites;

/// <summary>
/// The one control request a data server with a backup agent accepts, on its health endpoint: start the agent (enable
/// its timer and begin a first run), sent by the driver after a cutover. It is signed with the site's control key, an
/// HMAC-SHA256 of the exact request body, which names the action, the site, the time and a fresh nonce; the server
/// refuses a bad signature, a time outside <see cref="Window"/> of its clock, a nonce it has seen, a site that is not
/// its own, and any request before its restore has finished. A server without an agent (a rehearsal copy) has no key
/// and refuses every request. The key is generated per site stack by infra/ (a Pulumi RandomPassword, like the vault's
/// restic password), written root-only into the data server's user data, and exported as the secret stack output
/// <see cref="StackOutputs.ControlKey"/>, which the driver reads with `pulumi stack output --show-secrets`: nothing to
/// configure, nothing in the stack files, and a key that never leaves the Pulumi state and the server.
/// </summary>
public static class BackupControl
{
    /// <summary>The request's path on the health port (POST).</summary>
    public const string Path = "/failover/control";

    /// <summary>The one action: enable the agent's timer and start its first run (the same as `systemctl enable --now` by hand).</summary>
    public const string StartBackups = "start-backups";

    /// <summary>The header that carries the lowercase hex HMAC-SHA256 of the body.</summary>
    public const string SignatureHeader = "X-Failover-Signature";

    /// <summary>Letters and digits (the key goes into a file cloud-init writes): 48 of 62 symbols, about 285 bits.</summary>
    public const int KeyLength = 48;

    /// <summary>Where the data server keeps its key (root only); systemd hands it to the unprivileged health daemon as a credential.</summary>
    public const string KeyFile = "/etc/failover/control.key";

    /// <summary>The credential's name inside the daemon's <c>$CREDENTIALS_DIRECTORY</c> (systemd's LoadCredential=).</summary>
    public const string Credential = "control-key";

    /// <summary>
    /// How far the request's time may be from the server's, either way: NTP keeps servers and laptops within a second,
    /// and a captured request is worth nothing after two minutes (its nonce is refused within them).
    /// </summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The daemon's state directory (systemd StateDirectory=; with DynamicUser= it lives under /var/lib/private): the
    /// nonces seen and the trigger file. The daemon runs as a user that cannot start units, so it writes the trigger and
    /// a root path unit (<see cref="PathUnit"/>) starts the agent.
    /// </summary>
    public const string StateDirectory = "failover-health";
    public const string TriggerName = "start-backups";
    public const string TriggerPath = "/var/lib/private/" + StateDirectory + "/" + TriggerName;

    /// <summary>Where the root unit writes the timer's state once it has acted, for the daemon's answer.</summary>
    public const string TimerStateName = "timer-state";

    public const string PathUnit = "failover-backup-start.path";
    public const string StartUnit = "failover-backup-start.service";

    /// <summary>The largest body the daemon reads; anything longer is refused unread.</summary>
    public const int MaxBody = 1024;

    /// <summary>Where the request goes: the health port of the data server at <paramref name="address"/>.</summary>
    public static string Url(string address, ServiceSettings service) =>
        $"http://{(address.Contains(':') ? $"[{address}]" : address)}:{service.HealthPort}{Path}";

    /// <summary>The key as the server's file holds it; one that is short or not letters and digits is refused (never shown).</summary>
    public static string CheckedKey(string key, string stack) =>
        key.Length >= 32 && key.All(char.IsAsciiLetterOrDigit) ? key
            : throw new ArgumentException($"{stack}: the control key must be at least 32 letters and digits (infra/ generates {KeyLength}); the one given is not", nameof(key));

    /// <summary>The request's body: canonical JSON (sorted keys, no spaces), the bytes that are signed and sent.</summary>
    public static string Body(string action, string site, DateTimeOffset at, string nonce) =>
        JsonSerializer.Serialize(new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["action"] = action, ["nonce"] = nonce, ["site"] = site, ["timestamp"] = at.ToUnixTimeSeconds(),
        });

    /// <summary>The signature of <paramref name="body"/> under <paramref name="key"/>: lowercase hex HMAC-SHA256.</summary>
    public static string Sign(string key, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body)));

    /// <summary>The systemd path unit that starts <see cref="StartUnit"/> each time the daemon writes the trigger.</summary>
    public static string PathUnitText() =>
        "[Unit]\nDescription=failover: a signed request to start the backup agent\n\n" +
        $"[Path]\nPathChanged={TriggerPath}\nUnit={StartUnit}\n\n[Install]\nWantedBy=paths.target\n";

    /// <summary>
    /// The root oneshot that starts the agent: the timer enabled and started and a first run begun, only when the timer is
    /// not already active, so a repeated request changes nothing.
    /// </summary>
    // $$ is a literal $ for systemd, which expands $NAME in ExecStart.
    public static string StartUnitText() =>
        "[Unit]\nDescription=failover: start the backup agent (a signed request after a cutover)\n\n" +
        $"[Service]\nType=oneshot\nExecStart=/bin/sh -c 'systemctl is-active -q {BackupAgent.Timer} || " +
        $"{{ systemctl enable --now {BackupAgent.Timer} && systemctl start --no-block {BackupAgent.Service}; }}; r=$$?; " +
        $"systemctl is-active {BackupAgent.Timer} > /var/lib/private/{StateDirectory}/{TimerStateName}; exit $$r'\n";
}
