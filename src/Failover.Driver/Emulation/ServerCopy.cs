using System.Diagnostics;

namespace Failover.Driver.Emulation;

/// <summary>How a server's root was made from the cached one.</summary>
public enum CopyKind { Overlay, FullCopy }

/// <summary>
/// One server's writable root over the cached <see cref="DebianRoot"/>: an overlayfs mount (the cached root is
/// the read-only lower layer, the server's writes land in its own upper directory: a few milliseconds, and
/// only what the server writes costs disk), or, where overlayfs cannot be mounted, `cp -a --reflink=auto`.
/// </summary>
internal sealed class ServerCopy
{
    private ServerCopy(string directory, string root, CopyKind kind, TimeSpan took)
    {
        _directory = directory;
        Root = root;
        Kind = kind;
        Took = took;
    }

    private readonly string _directory;

    /// <summary>The directory the server boots from.</summary>
    public string Root { get; }
    public CopyKind Kind { get; }
    public TimeSpan Took { get; }

    /// <summary>Where the server's own writes are: the overlay's upper layer, or the whole copy.</summary>
    public string Writes => Kind == CopyKind.Overlay ? Path.Combine(_directory, "upper") : Root;

    /// <summary>A copy made earlier (by another process), found again by its directory.</summary>
    public static ServerCopy Existing(string directory, CopyKind kind, TimeSpan took) => new(directory, Path.Combine(directory, "root"), kind, took);

    public static async Task<ServerCopy> MakeAsync(string cachedRoot, string directory, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var merged = Path.Combine(directory, "root");
        foreach (var d in new[] { "upper", "work", "root" }) Directory.CreateDirectory(Path.Combine(directory, d));
        try
        {
            await HostCommand.RunAsync("mount", ["-t", "overlay", "overlay", "-o",
                $"lowerdir={cachedRoot},upperdir={Path.Combine(directory, "upper")},workdir={Path.Combine(directory, "work")}", merged], cancellation);
            return new ServerCopy(directory, merged, CopyKind.Overlay, clock.Elapsed);
        }
        catch (InvalidOperationException)
        {
            Directory.Delete(merged);
            await HostCommand.RunAsync("cp", ["-a", "--reflink=auto", cachedRoot, merged], cancellation);
            return new ServerCopy(directory, merged, CopyKind.FullCopy, clock.Elapsed);
        }
    }

    /// <summary>Bytes the server added to the disk (du of its writes).</summary>
    public async Task<long> DiskBytesAsync()
    {
        var output = await HostCommand.RunAsync("du", ["-sb", "--one-file-system", Writes], CancellationToken.None);
        return long.Parse(output.Split('\t')[0]);
    }

    /// <summary>Unmounts and deletes everything the copy made; safe to call twice and after a half-made copy.</summary>
    public static async Task RemoveAsync(string directory)
    {
        var merged = Path.Combine(directory, "root");
        if (await IsMountPointAsync(merged) && !await HostCommand.TryAsync("umount", merged))
            await HostCommand.TryAsync("umount", "--lazy", merged);
        if (Directory.Exists(directory))
            await HostCommand.TryAsync("rm", "-rf", "--one-file-system", directory);
    }

    private static Task<bool> IsMountPointAsync(string path) =>
        Task.FromResult(File.ReadAllLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, var at, ..] && at == path));
}
