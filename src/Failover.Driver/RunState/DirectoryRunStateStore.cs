using System.Security.Cryptography;
using System.Text;

namespace Failover.Driver.RunState;

/// <summary>
/// The run state in a folder on this machine (<c>.failover/</c> beside Pulumi.yaml): the local provider's and
/// the tests' store, and what every earlier version wrote. The lock is a file created exclusively; a journal is
/// JSON lines flushed to disk after each record, so a crash leaves a prefix of complete lines.
/// </summary>
public sealed class DirectoryRunStateStore(string root) : IRunStateStore
{
    public string Root { get; } = root;
    public string Location => Root;
    public bool IsShared => false;

    public string PathOf(string key) => Path.Combine(Root, key.Replace('/', Path.DirectorySeparatorChar));

    public StoredObject? Read(string key)
    {
        var path = PathOf(key);
        try { return File.Exists(path) ? Versioned(File.ReadAllBytes(path)) : null; }
        catch (FileNotFoundException) { return null; }
    }

    public string? TryCreate(string key, byte[] content)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            using var stream = CreateNew(path);
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path)) { return null; }
        return VersionOf(content);
    }

    /// <summary>
    /// Opens a file that must not exist yet: the exclusive create (O_EXCL) is what gives one of two processes the key.
    /// Readers may open it while it is written (FileShare.Read) and see it empty or half written, which the lock's reader
    /// waits out; with FileShare.None, .NET on Unix holds an advisory lock until the content is on disk, and a second
    /// `failover run` reading the holder in that moment failed with "being used by another process".
    /// </summary>
    internal static FileStream CreateNew(string path) => new(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);

    public string? TryReplace(string key, byte[] content, string version)
    {
        if (Read(key) is not { } current || current.Version != version) return null;
        Put(key, content);
        return VersionOf(content);
    }

    public void Put(string key, byte[] content)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, content);
        File.Move(tmp, path, overwrite: true);
    }

    public void Delete(string key) => File.Delete(PathOf(key));

    /// <summary>Read, compare, delete: a folder on one machine has no conditional delete, and only its own processes race here.</summary>
    public bool TryDelete(string key, string version)
    {
        if (Read(key) is not { } current || current.Version != version) return false;
        Delete(key);
        return true;
    }

    public IReadOnlyList<string> Children(string prefix)
    {
        var dir = PathOf(prefix);
        return Directory.Exists(dir) ? Directory.GetDirectories(dir).Select(Path.GetFileName).OfType<string>().ToList() : [];
    }

    public IRecordLog Log(string name) => new FileRecordLog(PathOf(name) + ".jsonl");

    private static StoredObject Versioned(byte[] content) => new(content, VersionOf(content));

    private static string VersionOf(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}

/// <summary>JSON lines in one file, each appended and flushed to disk; the lock keeps a second writer out, so sequence numbers are not checked.</summary>
public sealed class FileRecordLog(string path) : IRecordLog
{
    public string Location => path;

    /// <summary>Creates the empty file, as a run's journal exists from the moment the run is opened.</summary>
    public void EnsureExists()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path)) File.AppendAllText(path, "");
    }

    public IReadOnlyList<string> ReadAll() =>
        File.Exists(path) ? File.ReadAllLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToList() : [];

    public bool TryAppend(long sequence, string record)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Opened per record, so no handle outlives its writer (the history is appended by short-lived callers).
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough);
        stream.Write(Encoding.UTF8.GetBytes(record + "\n"));
        stream.Flush(flushToDisk: true);
        return true;
    }

    public void Dispose() { }
}
