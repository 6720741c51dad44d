using System.IO.Compression;
using System.Text;
using Failover.Core.Backup;
using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>How much user data a provider accepts for one server, and what it counts.</summary>
public sealed record UserDataLimit(Provider Provider, int Bytes, string Counted, string Source)
{
    /// <summary>
    /// EC2: "User data is limited to 16 KB, in raw form, before it is base64-encoded"
    /// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html). The raw form is
    /// our gzip, which cloud-init unpacks by its magic bytes.
    /// </summary>
    public static readonly UserDataLimit Aws = new(Provider.Aws, 16 * 1024, "raw bytes (gzip) before base64",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html");

    /// <summary>
    /// Hetzner Cloud API, POST /servers: "user_data: Cloud-Init user data to use during Server creation. This field is
    /// limited to 32KiB" (https://docs.hetzner.cloud/#servers-create-a-server). The field is a JSON string, so the gzip
    /// goes base64-encoded; cloud-init's Hetzner datasource base64-decodes it (DataSourceHetzner: "Hetzner cloud does
    /// not support binary user-data ... do a base64 decode of the data if we can").
    /// </summary>
    public static readonly UserDataLimit Hetzner = new(Provider.Hetzner, 32 * 1024, "characters of base64 text",
        "https://docs.hetzner.cloud/#servers-create-a-server");

    public static UserDataLimit For(Provider provider) => provider switch
    {
        Provider.Aws => Aws,
        Provider.Hetzner => Hetzner,
        _ => throw new ArgumentException($"{provider} sites get no user data: the driver's local provider runs them", nameof(provider)),
    };
}

/// <summary>
/// One server's user data as the provider receives it: the cloud-config gzipped, as base64 text. cloud-init: "Content
/// found to be gzip compressed will be uncompressed. The uncompressed data will then be used as if it were not
/// compressed" (https://cloudinit.readthedocs.io/en/stable/explanation/format.html, "Gzip compressed content"), on every
/// datasource, NoCloud included. EC2 gets it through <c>userDataBase64</c> and counts the
/// decoded bytes; Hetzner gets the text itself and counts its characters.
/// </summary>
public sealed partial record ServerUserData(string Server, string Base64Gzip, int Bytes, UserDataLimit Limit)
{
    public bool Fits => Bytes <= Limit.Bytes;

    /// <summary>Human figure in the plan: <c>6.2 KB of 16 KB</c> (KB = 1,024 bytes, as the providers count).</summary>
    public string Figure => $"{Kb(Bytes)} of {Kb(Limit.Bytes)}";

    private static string Kb(int bytes) =>
        (bytes / 1024.0).ToString(bytes % 1024 == 0 ? "0" : "0.0", System.Globalization.CultureInfo.InvariantCulture) + " KB";

    /// <summary>Gzips and measures a cloud-config; never throws, so the plan can report a server over the limit.</summary>
    public static ServerUserData Measure(string server, string cloudConfig, Provider provider)
    {
        var limit = UserDataLimit.For(provider);
        var gz = Gzip(cloudConfig);
        var text = Convert.ToBase64String(gz);
        return new ServerUserData(server, text, provider == Provider.Aws ? gz.Length : text.Length, limit);
    }

    /// <summary>The user data to send; over the provider's limit it is an error before anything is created.</summary>
    public static ServerUserData Encode(string server, string cloudConfig, Provider provider)
    {
        var data = Measure(server, cloudConfig, provider);
        if (!data.Fits)
            throw new UserDataTooLargeException(data);
        return data;
    }

    /// <summary>
    /// Deterministic gzip (no name, no time in the header): the same document gives the same bytes, so no spurious
    /// replacement. A long run of base64 (a restore point's records: random bytes) gets deflate blocks of its own, ended by
    /// a sync flush either side: in a block shared with the scripts its 64 symbols are coded with the scripts' Huffman
    /// table, about 1.1 KB more at a thousand tenants (7.6 bytes a record instead of 6.5). Still one standard gzip member.
    /// </summary>
    public static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var at = 0;
            foreach (System.Text.RegularExpressions.Match run in RandomRun().Matches(text))
            {
                gz.Write(Encoding.UTF8.GetBytes(text[at..run.Index]));
                gz.Flush();
                gz.Write(Encoding.UTF8.GetBytes(run.Value));
                gz.Flush();
                at = run.Index + run.Length;
            }
            gz.Write(Encoding.UTF8.GetBytes(text[at..]));
        }
        return buffer.ToArray();
    }

    /// <summary>Base64 words of 1,024 characters or more: shorter ones cost more in block headers than they save.</summary>
    [System.Text.RegularExpressions.GeneratedRegex("[A-Za-z0-9+/]{1024,}={0,2}")]
    private static partial System.Text.RegularExpressions.Regex RandomRun();

    /// <summary>The cloud-config back from the base64 text, as cloud-init reads it.</summary>
    public static string Decode(string base64Gzip)
    {
        using var gz = new GZipStream(new MemoryStream(Convert.FromBase64String(base64Gzip)), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

/// <summary>A server's user data over its provider's limit: names the server, the size, the limit and the way out.</summary>
public sealed class UserDataTooLargeException(ServerUserData data) : Exception(
    $"{data.Server}: user data is {data.Bytes:N0} bytes, over the {data.Limit.Provider} limit of {data.Limit.Bytes:N0} " +
    $"({data.Limit.Counted}; {data.Limit.Source}). Fewer tenants per restore point, shorter tenant names or fewer distinct " +
    "hooks make it smaller; `failover plan` shows each server's size")
{
    public ServerUserData UserData { get; } = data;
}

/// <summary>The user data of every server of a site in its mode, as infra/ sends it and `failover plan` reports it.</summary>
public static class SiteUserData
{
    /// <summary>Each server's user data; throws <see cref="UserDataTooLargeException"/> for one over its provider's limit.</summary>
    /// <param name="backup">The backup agent the data server installs (<see cref="BackupPlan.OfSite"/>), with each vault's <paramref name="writers"/>.</param>
    /// <param name="controlKey">The site's control key (<see cref="BackupControl"/>), given with <paramref name="backup"/>.</param>
    public static IReadOnlyList<ServerUserData> For(SitePlan plan, RestoreRecipe? recipe, ResticCredentials? credentials, bool measureOnly = false,
        BackupPlan? backup = null, IReadOnlyList<VaultWriter>? writers = null, string? controlKey = null) =>
        plan.Servers.Select(server =>
        {
            var boot = ServerBootstrap.For(plan, server, recipe, backup);
            var document = CloudConfig.Render(boot, boot.Restore is null ? null : credentials, writers, controlKey);
            return measureOnly
                ? ServerUserData.Measure(server.Name, document, plan.Stack.Site.Provider)
                : ServerUserData.Encode(server.Name, document, plan.Stack.Site.Provider);
        }).ToList();

    /// <summary>
    /// The user data a failover would give the target: at mvd (full when the target runs full), restoring every
    /// tenant. The plan runs before any snapshot is chosen, so each tenant gets a 64-hex id (the length restic
    /// writes) and the credentials placeholders of the lengths the vault stack generates; the size is exact to
    /// within a few bytes of compression.
    /// </summary>
    public static IReadOnlyList<ServerUserData> Planned(Topology.Topology topology, StackSpec target)
    {
        if (target.Site.Provider is not (Provider.Aws or Provider.Hetzner)) return [];
        var failover = target.Provisioned(topology.Tenants.Select(t => new ConfiguredSnapshot(t.Name, PlaceholderId(t.Name), null)).ToList());
        var plan = SitePlan.For(failover);
        var recipe = plan.DataServer is { } data ? RestoreRecipe.For(topology, failover, data.Capacity.Vcpus) : null;
        var repository = topology.Stacks.FirstOrDefault(s => s.Vault?.Kind == VaultKind.S3) is { } vault
            ? VaultPlan.For(topology, vault).ResticRepository
            : "s3:https://s3.eu-central-1.amazonaws.com/" + new string('b', 40) + "/restic";
        var credentials = new ResticCredentials(repository, PlaceholderId("password")[..48], PlaceholderId("key")[..20].ToUpperInvariant(), PlaceholderId("secret")[..40]);
        var backup = AgentThatFits(plan, recipe, BackupPlan.OfSite(topology, failover));
        return For(plan, recipe, credentials, measureOnly: true, backup, backup is null ? null : PlaceholderWriters(backup, repository), PlaceholderControlKey);
    }

    /// <summary>
    /// The backup agent the data server installs (<see cref="Fitted"/> decides), or null when its user data has no room even
    /// for the parts that take the signed start request. infra/ and the plan read the same decision.
    /// </summary>
    public static BackupPlan? AgentThatFits(SitePlan plan, RestoreRecipe? recipe, BackupPlan? backup) =>
        backup is null || plan.DataServer is not { } data ? backup : ServerBootstrap.For(plan, data, recipe, backup).Backup;

    /// <summary>
    /// The one decision of what a data server's user data carries, the first of these that leaves <see cref="Margin"/> of
    /// its provider's limit: (1) everything: the restore point's records, the agent's control parts (production: the agent
    /// itself) and the fence's stop; (2) the same with the records sent after boot in the signed restore-point request and
    /// only their SHA-256 in the user data (a restoring keyed standby; at a thousand tenants the records are some 7 KB of
    /// gzip, nearly half of AWS's 16 KB); (3) without the stop; (4) without any control part, the records inline (a standby
    /// whose agent must then be installed by hand: the plan warns `backup-agent-does-not-fit`). Measured with credentials and
    /// a key of the lengths infra/ generates, so infra/, the emulator and the plan decide alike; when none leaves the margin,
    /// the last that fits at all, else (4), which the provider refuses (<see cref="UserDataTooLargeException"/>).
    /// </summary>
    public static ServerBootstrap Fitted(SitePlan plan, ServerBootstrap boot)
    {
        if (!boot.InstallsDatabase || plan.Stack.Site.Provider is not (Provider.Aws or Provider.Hetzner)) return boot;
        var keyed = SiteControl.HasKey(plan.Stack);
        var byRequest = keyed && boot.Restore is not null;
        var candidates = new List<ServerBootstrap> { boot with { RestorePointByRequest = false } };
        if (byRequest) candidates.Add(boot with { RestorePointByRequest = true });
        if (keyed) candidates.Add(boot with { RestorePointByRequest = byRequest, TakesStop = false });
        candidates.Add(boot with { RestorePointByRequest = false, TakesStop = false, Backup = null });
        var measured = candidates.Select(c => (Boot: c, Size: ServerUserData.Measure(c.Server, CloudConfig.Render(c, c.Restore is null ? null : PlaceholderReader,
            c.Backup is null ? null : PlaceholderWriters(c.Backup, PlaceholderReader.Repository), keyed ? PlaceholderControlKey : null), plan.Stack.Site.Provider))).ToList();
        return measured.FirstOrDefault(m => m.Size.Bytes + Margin <= m.Size.Limit.Bytes).Boot
            ?? measured.FirstOrDefault(m => m.Size.Fits).Boot
            ?? candidates[^1];
    }

    /// <summary>
    /// The restore point <paramref name="deployed"/>'s data server waits for by request (<see cref="ServerBootstrap.RestorePointByRequest"/>),
    /// or null when its user data carries it: the stack as `pulumi up` deploys it (mode and failover:snapshots set), decided
    /// as infra/ decides (<see cref="AgentThatFits"/>, then <see cref="ServerBootstrap.For"/>), so the driver sends exactly
    /// the records whose SHA-256 the user data pins.
    /// </summary>
    public static RestoreRecipe? RestorePointByRequest(Topology.Topology topology, StackSpec deployed)
    {
        if (!SiteControl.HasKey(deployed) || deployed.Site.Provider is not (Provider.Aws or Provider.Hetzner)) return null;
        var plan = SitePlan.For(deployed);
        if (plan.DataServer is not { } data || RestoreRecipe.For(topology, deployed, data.Capacity.Vcpus) is not { } recipe) return null;
        var boot = ServerBootstrap.For(plan, data, recipe, AgentThatFits(plan, recipe, BackupPlan.OfSite(topology, deployed)));
        return boot.RestorePointByRequest ? recipe : null;
    }

    /// <summary>
    /// The room a data server's user data keeps below its provider's limit when it can: a site that grows by a few tenants
    /// (production's agent names each one, some 5 bytes of gzip) keeps what it carries rather than lose a part on the next
    /// deployment. About a hundred tenants.
    /// </summary>
    public const int Margin = 512;

    private static readonly ResticCredentials PlaceholderReader = new("s3:https://s3.eu-central-1.amazonaws.com/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/restic",
        PlaceholderId("password")[..48], PlaceholderId("key")[..20].ToUpperInvariant(), PlaceholderId("secret")[..40]);

    /// <summary>Write credentials of the lengths the vault stacks generate, one per vault of the plan, for measuring user data.</summary>
    public static IReadOnlyList<VaultWriter> PlaceholderWriters(BackupPlan backup, string repository) =>
        backup.Vaults.Select(v => new VaultWriter(v.Vault, new ResticCredentials(repository.Replace("/restic", "/" + v.Vault, StringComparison.Ordinal),
            PlaceholderId("password " + v.Vault)[..48], PlaceholderId("key " + v.Vault)[..20].ToUpperInvariant(), PlaceholderId("secret " + v.Vault)[..40]))).ToList();

    /// <summary>A control key of the length and alphabet infra/ generates, for measuring user data (<see cref="BackupControl.KeyLength"/>).</summary>
    public static readonly string PlaceholderControlKey =
        Convert.ToBase64String(System.Security.Cryptography.SHA512.HashData(Encoding.UTF8.GetBytes("control key"))).Replace("+", "", StringComparison.Ordinal).Replace("/", "", StringComparison.Ordinal)[..BackupControl.KeyLength];

    /// <summary>A stand-in snapshot id with the entropy of a real one (hex of a hash), so compression is not flattered.</summary>
    public static string PlaceholderId(string tenant) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(tenant)));
}
