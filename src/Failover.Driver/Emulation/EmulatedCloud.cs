using System.Text.Json;
using System.Text.Json.Serialization;
using Serilog;

namespace Failover.Driver.Emulation;

/// <summary>One server the emulated provider runs: the stack it belongs to, what it was created with, and where it runs.</summary>
public sealed record CloudServer(string Stack, string Provider, string Location, string Type, string UserDataHash, bool Protected, ServerRecord Record);

/// <summary>A vault stack's emulated bucket: a restic repository in a directory of the emulation, its password and IAM-like keys.</summary>
public sealed record CloudVault(string Stack, string Repository, string Password, IReadOnlyDictionary<string, string> Keys);

/// <summary>
/// Everything the emulated Hetzner and AWS accounts hold (servers with their containers, vaults), kept as JSON in the
/// emulation's directory so each `pulumi` process (one per command) sees what the last one made. Every change happens
/// under an exclusive lock of that file: two `pulumi up` of different stacks may run at once.
/// </summary>
public sealed class EmulatedCloud
{
    /// <summary>The emulation's directory: containers, vaults and this state. Set for the `pulumi` the drill runs.</summary>
    public const string DirectoryVariable = "FAILOVER_EMULATION_DIR";

    /// <summary>The first address of the /24 the servers' links use (a block the caller owns).</summary>
    public const string BlockVariable = "FAILOVER_EMULATION_BLOCK";

    /// <summary>Where the cached Debian roots are (default <see cref="DebianRoot.DefaultCache"/>).</summary>
    public const string RootsVariable = "FAILOVER_EMULATION_ROOTS";

    /// <summary>RFC 2544's range for test networks, never routed: the drill's default block.</summary>
    public const string DefaultBlock = "198.18.14.0";

    public SortedDictionary<string, CloudServer> Servers { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, CloudVault> Vaults { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Each site stack's control key (infra/'s RandomPassword): made by its first `up`, kept until `destroy`.</summary>
    public SortedDictionary<string, string> ControlKeys { get; set; } = new(StringComparer.Ordinal);

    [JsonIgnore] public string Directory { get; private set; } = "";

    public string ServersDirectory => Path.Combine(Directory, "servers");
    public string VaultsDirectory => Path.Combine(Directory, "vaults");

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    private static string StateFile(string directory) => Path.Combine(directory, "cloud.json");

    /// <summary>The state as it is now (no lock: for reading, e.g. by the drill watching its servers).</summary>
    public static EmulatedCloud Read(string directory)
    {
        var file = StateFile(directory);
        var cloud = File.Exists(file) ? JsonSerializer.Deserialize<EmulatedCloud>(File.ReadAllText(file), Options)! : new EmulatedCloud();
        cloud.Directory = directory;
        return cloud;
    }

    /// <summary>Runs <paramref name="change"/> on the state under the lock and saves what it left, also when it throws.</summary>
    public static async Task<T> ChangeAsync<T>(string directory, Func<EmulatedCloud, Task<T>> change, CancellationToken cancellation)
    {
        System.IO.Directory.CreateDirectory(directory);
        await using var gate = await LockAsync(Path.Combine(directory, "cloud.lock"), cancellation);
        var cloud = Read(directory);
        try { return await change(cloud); }
        finally { cloud.Save(); }
    }

    private void Save()
    {
        var file = StateFile(Directory);
        File.WriteAllText(file + ".tmp", JsonSerializer.Serialize(this, Options));
        File.Move(file + ".tmp", file, overwrite: true);
    }

    /// <summary>The lowest link index no server uses.</summary>
    public int FreeIndex(IEnumerable<int> taken)
    {
        var used = Servers.Values.Select(s => s.Record.Index).Concat(taken).ToHashSet();
        for (var i = 0; i < ServerNetwork.MaxServers; i++)
            if (!used.Contains(i)) return i;
        throw new InvalidOperationException($"the emulation runs {ServerNetwork.MaxServers} servers already");
    }

    /// <summary>
    /// Removes every server (containers, copies, loop devices, namespaces) and vault of the emulation, protected or not:
    /// the drill's clean-up, not a `pulumi destroy`.
    /// </summary>
    public static async Task RemoveAllAsync(string directory, ILogger log)
    {
        if (!System.IO.Directory.Exists(directory)) return;
        await ChangeAsync(directory, async cloud =>
        {
            await RemoveServersAsync(cloud, cloud.Servers.Values.ToList(), log);
            cloud.Vaults.Clear();
            cloud.ControlKeys.Clear();
            return 0;
        }, CancellationToken.None);
        // --one-file-system: a mount still busy is left (and named by rm), never deleted through.
        if (!await HostCommand.TryAsync("rm", "-rf", "--one-file-system", directory))
            log.Warning("Could not remove all of {Directory}", directory);
    }

    /// <summary>
    /// Deletes <paramref name="servers"/> (<see cref="EmulatedServer.DeleteAsync"/>) all at once, as a provider deletes
    /// servers side by side; one after the other, each with a clean poweroff, they added up to half a minute.
    /// </summary>
    internal static async Task RemoveServersAsync(EmulatedCloud cloud, IReadOnlyList<CloudServer> servers, ILogger log)
    {
        await Task.WhenAll(servers.Select(s => EmulatedServer.Attach(s.Record, log).DeleteAsync()));
        foreach (var s in servers) cloud.Servers.Remove(s.Record.Name);
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellation)
    {
        var deadline = DateTime.UtcNow.AddMinutes(30);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { await Task.Delay(200, cancellation); }
        }
    }
}
