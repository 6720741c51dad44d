namespace Failover.Driver.RunState;

/// <summary>An object of the run-state store and the version a conditional replace must name (an ETag, or a content hash).</summary>
public sealed record StoredObject(byte[] Content, string Version);

/// <summary>
/// Where the run state of a project lives (the lock, each run's journal, reports, the rehearsal history):
/// a directory on this machine, or an S3 prefix every operator reaches. Writes that decide who goes on are
/// conditional, so two machines can never both believe they won.
/// </summary>
public interface IRunStateStore
{
    /// <summary>Where the state is, for messages: a folder, or s3://bucket/prefix.</summary>
    string Location { get; }

    /// <summary>True when other machines see the same state (S3); false for a folder on this machine.</summary>
    bool IsShared { get; }

    StoredObject? Read(string key);

    /// <summary>Creates the object only if it does not exist; returns its version, or null when another writer created it first.</summary>
    string? TryCreate(string key, byte[] content);

    /// <summary>Replaces the object only if it is still at <paramref name="version"/>; returns the new version, or null when it changed or is gone.</summary>
    string? TryReplace(string key, byte[] content, string version);

    /// <summary>Writes the object whatever was there (reports: rewritten whole from the journal each time).</summary>
    void Put(string key, byte[] content);

    void Delete(string key);

    /// <summary>
    /// Deletes the object only if it is still at <paramref name="version"/> (a lock released or broken by the one who
    /// read it, never one retaken meanwhile); false when it changed or is gone.
    /// </summary>
    bool TryDelete(string key, string version);

    /// <summary>The names directly below a folder-like prefix (run ids below "runs").</summary>
    IReadOnlyList<string> Children(string prefix);

    /// <summary>An append-only log of records (a run's journal, the rehearsal history).</summary>
    IRecordLog Log(string name);
}

/// <summary>An append-only sequence of records; appending at a sequence number succeeds for one writer only where the store can enforce it.</summary>
public interface IRecordLog : IDisposable
{
    string Location { get; }

    /// <summary>The complete records in order (a torn last line of a file is left out).</summary>
    IReadOnlyList<string> ReadAll();

    /// <summary>Appends <paramref name="record"/> as record number <paramref name="sequence"/> (0-based); false when that number is taken.</summary>
    bool TryAppend(long sequence, string record);
}

/// <summary>The run state cannot be read or written (network, credentials, permissions): nothing was changed by this command.</summary>
public sealed class RunStateUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
