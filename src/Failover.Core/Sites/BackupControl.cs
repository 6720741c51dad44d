using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Failover.Core.Sites;

/// <summary>
/// The control requests a data server with a backup agent accepts on its health endpoint, each one action of a small
/// table (<see cref="Actions"/>): start the agent after a cutover (<see cref="StartBackups"/>, carrying the agent itself,
/// <see cref="AgentFiles"/>), and file a run's evidence into the vaults (<see cref="FileReport"/>). Every request is signed
/// with the site's control key, an HMAC-SHA256 of the exact request body, which names the action, the site, the time and
/// a fresh nonce; the server refuses a bad signature, a time outside <see cref="Window"/> of its clock, a nonce it has
/// seen, a site that is not its own, an unknown action, a body over the action's limit, a payload whose SHA-256 does not
/// match, and any request before its restore has finished. A server without an agent (a rehearsal copy) has no key and
/// refuses every request. The key is generated per site stack by infra/ (a Pulumi RandomPassword, like the vault's restic
/// password), written root-only into the data server's user data, and exported as the secret stack output
/// <see cref="StackOutputs.ControlKey"/>, which the driver reads with `pulumi stack output --show-secrets`: nothing to
/// configure, nothing in the stack files, and a key that never leaves the Pulumi state and the server.
/// The unprivileged health daemon checks a request and queues it; a root oneshot (<see cref="ActUnit"/>, started by
/// <see cref="PathUnit"/> while the queue is not empty) checks the signature and payload again, so the daemon's user
/// cannot make root do anything the key did not sign, and carries it out.
/// </summary>
public static class BackupControl
{
    /// <summary>The request's path on the health port (POST).</summary>
    public const string Path = "/failover/control";

    /// <summary>Install the agent the request carries (when it differs), enable its timer and begin a first run: a repeat changes nothing.</summary>
    public const string StartBackups = "start-backups";

    /// <summary>Store the report files the request carries into every vault it names, with that vault's write credentials.</summary>
    public const string FileReport = "file-report";

    /// <summary>
    /// Hand a waiting data server its restore point's records (<see cref="RestoreRecipe.RenderData"/>), which its user data
    /// pins by their SHA-256 (<see cref="ServerBootstrap.RestorePointByRequest"/>): records that hash to anything else are
    /// refused, so the request can only deliver the restore point infra/ chose; a repeat changes nothing.
    /// </summary>
    public const string RestorePoint = "restore-point";

    /// <summary>
    /// The actions and the largest body each takes. A start carries the agent (its script is about 12 KB, a production
    /// configuration about 10 bytes a tenant); a report carries its Markdown, HTML and JSON and the journal, base64.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int> Actions = new SortedDictionary<string, int>(StringComparer.Ordinal)
    {
        [StartBackups] = 256 * 1024,
        [FileReport] = 16 * 1024 * 1024,
        // The fence's stop carries nothing but the envelope (ApplicationStop); every server of a site takes it.
        [ApplicationStop.Action] = 1024,
        // About 11 bytes a tenant (RestoreRecipe.RenderData): some 90,000 tenants.
        [RestorePoint] = 1024 * 1024,
    };

    /// <summary>The largest body the daemon reads at all; anything longer is refused unread.</summary>
    public static int MaxBody => Actions.Values.Max();

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
    /// nonces seen, the queue of accepted requests and their results. The daemon runs as a user that cannot start units
    /// or read the vault credentials, so a root unit (<see cref="ActUnit"/>) carries the requests out.
    /// </summary>
    public const string StateDirectory = "failover-health";
    public const string StatePath = "/var/lib/private/" + StateDirectory;
    public const string QueueName = "requests";
    public const string ResultsName = "results";
    public const string QueuePath = StatePath + "/" + QueueName;

    /// <summary>The environment variable that makes the handler carry out the queue (as root) instead of serving.</summary>
    public const string ActVariable = "FAILOVER_CONTROL_ACT";

    /// <summary>How long the daemon waits for the root unit's result before it answers (then "queued"; the driver checks the effect itself).</summary>
    public static readonly TimeSpan ResultWait = TimeSpan.FromSeconds(20);

    public const string PathUnit = "failover-control.path";
    public const string ActUnit = "failover-control.service";

    /// <summary>Where the root unit stages a report before restic stores it (removed after).</summary>
    public const string ReportStaging = "/var/lib/failover/report";

    /// <summary>Where the request goes: the health port of the data server at <paramref name="address"/>.</summary>
    public static string Url(string address, ServiceSettings service) =>
        $"http://{(address.Contains(':') ? $"[{address}]" : address)}:{service.HealthPort}{Path}";

    /// <summary>The key as the server's file holds it; one that is short or not letters and digits is refused (never shown).</summary>
    public static string CheckedKey(string key, string stack) =>
        key.Length >= 32 && key.All(char.IsAsciiLetterOrDigit) ? key
            : throw new ArgumentException($"{stack}: the control key must be at least 32 letters and digits (infra/ generates {KeyLength}); the one given is not", nameof(key));

    /// <summary>
    /// The request's body: canonical JSON (sorted keys, no spaces), the bytes that are signed and sent. The action's
    /// payload members sit beside the envelope's (action, nonce, site, timestamp).
    /// </summary>
    public static string Body(string action, string site, DateTimeOffset at, string nonce, IReadOnlyDictionary<string, JsonNode?>? payload = null)
    {
        if (!Actions.ContainsKey(action)) throw new ArgumentException($"unknown control action '{action}' (known: {string.Join(", ", Actions.Keys)})", nameof(action));
        var body = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["action"] = action, ["nonce"] = nonce, ["site"] = site, ["timestamp"] = at.ToUnixTimeSeconds(),
        };
        foreach (var (k, v) in payload ?? new Dictionary<string, JsonNode?>())
            if (!body.TryAdd(k, v)) throw new ArgumentException($"payload member '{k}' is the envelope's", nameof(payload));
        var text = JsonSerializer.Serialize(body);
        var limit = Actions[action];
        if (Encoding.UTF8.GetByteCount(text) > limit)
            throw new ArgumentException($"the {action} request is {Encoding.UTF8.GetByteCount(text):N0} bytes, over its limit of {limit:N0}", nameof(payload));
        return text;
    }

    /// <summary>The start request: the agent Core renders for the site, byte for byte, and its SHA-256.</summary>
    public static string StartBody(string site, DateTimeOffset at, string nonce, AgentFiles agent) =>
        Body(StartBackups, site, at, nonce, new Dictionary<string, JsonNode?> { ["agent"] = agent.Json() });

    /// <summary>The restore-point request: the records of <paramref name="recipe"/>, byte for byte, and their SHA-256 (the pin).</summary>
    public static string RestorePointBody(string site, DateTimeOffset at, string nonce, RestoreRecipe recipe) =>
        Body(RestorePoint, site, at, nonce, new Dictionary<string, JsonNode?> { ["records"] = recipe.RenderData(), ["sha256"] = recipe.RestorePointSha256 });

    /// <summary>
    /// The report request: the run's evidence files, each base64 with its SHA-256, and the vaults to store them into (the
    /// site's failover:backup.vaults), as one restic snapshot per vault tagged like the local filing.
    /// </summary>
    public static string FileReportBody(string site, DateTimeOffset at, string nonce, ReportFiling filing) =>
        Body(FileReport, site, at, nonce, new Dictionary<string, JsonNode?>
        {
            ["files"] = new JsonArray(filing.Files.Select(f => (JsonNode)new JsonObject
            {
                ["content"] = Convert.ToBase64String(f.Content), ["name"] = f.Name, ["sha256"] = f.Sha256,
            }).ToArray()),
            ["run"] = filing.RunId,
            ["tags"] = new JsonArray(filing.Tags.Select(t => (JsonNode)t).ToArray()),
            ["vaults"] = new JsonArray(filing.Vaults.Select(v => (JsonNode)v).ToArray()),
        });

    /// <summary>The signature of <paramref name="body"/> under <paramref name="key"/>: lowercase hex HMAC-SHA256.</summary>
    public static string Sign(string key, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body)));

    /// <summary>The systemd path unit that starts <see cref="ActUnit"/> while the daemon's queue holds a request.</summary>
    public static string PathUnitText() =>
        "[Unit]\nDescription=failover: signed control requests to carry out\n\n" +
        $"[Path]\nDirectoryNotEmpty={QueuePath}\nUnit={ActUnit}\n\n[Install]\nWantedBy=paths.target\n";

    /// <summary>The root oneshot that carries out the queue: the same handler, with the key, in its acting mode.</summary>
    public static string ActUnitText() =>
        "[Unit]\nDescription=failover: carry out the signed control requests (docs/backup-and-restore.md)\n\n" +
        $"[Service]\nType=oneshot\nEnvironment={ActVariable}=1 STATE_DIRECTORY={StatePath}\nLoadCredential={Credential}:{KeyFile}\n" +
        $"ExecStart=/usr/bin/python3 {ServerBootstrap.HealthHandlerPath} 0 / /dev/null\n";
}

/// <summary>One file of a run's evidence, as the report request carries it.</summary>
public sealed record EvidenceFile(string Name, byte[] Content)
{
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));
}

/// <summary>
/// A run's evidence to file into the vaults by the serving site's data server: the report in its formats and the
/// journal, under the local filing's tags (<c>failover-report</c>, <c>report=RUN_ID</c>), into each vault of
/// failover:backup.vaults.
/// </summary>
public sealed record ReportFiling(string RunId, IReadOnlyList<string> Vaults, IReadOnlyList<EvidenceFile> Files)
{
    /// <summary>The tags of the snapshot, the local filing's (the backup catalog never takes it for a tenant's backup).</summary>
    public const string Tag = "failover-report";

    public static string RunTag(string runId) => $"report={runId}";

    public IReadOnlyList<string> Tags => [Tag, RunTag(RunId)];

    /// <summary>A file name the server writes: letters, digits, '.', '_' and '-', not starting with a dot.</summary>
    public static bool PlainName(string name) =>
        name.Length is > 0 and <= 64 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>The filing; a run id or file name the server would refuse is refused here first, naming it.</summary>
    public static ReportFiling Of(string runId, IReadOnlyList<string> vaults, IReadOnlyList<EvidenceFile> files)
    {
        if (!PlainName(runId)) throw new ArgumentException($"run id '{runId}' cannot name a report snapshot", nameof(runId));
        if (vaults.Count == 0) throw new ArgumentException("no vault to file the report into (failover:backup.vaults is empty)", nameof(vaults));
        if (files.FirstOrDefault(f => !PlainName(f.Name)) is { } bad) throw new ArgumentException($"evidence file '{bad.Name}' is not a plain file name", nameof(files));
        if (vaults.FirstOrDefault(v => !PlainName(v)) is { } badVault) throw new ArgumentException($"vault '{badVault}' is not a plain stack name", nameof(vaults));
        return new ReportFiling(runId, vaults, files);
    }
}
