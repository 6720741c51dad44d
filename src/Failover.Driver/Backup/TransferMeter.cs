using System.Diagnostics;
using Failover.Core.Backup;

namespace Failover.Driver.Backup;

/// <summary>
/// Counts one tenant's restore as it moves: the dump bytes read through the pipe into pg_restore, and the files
/// bytes restic reports (or the manifest's total once restic ends, where restic reports nothing while it runs).
/// </summary>
internal sealed class TransferMeter(string tenant, long total, Action<TransferProgress>? report)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _database;
    private long _files;

    /// <summary>Adds dump bytes read (a chunk size); 0 just reports.</summary>
    public void Database(long added)
    {
        Interlocked.Add(ref _database, added);
        Report();
    }

    /// <summary>Sets the files bytes restored so far (restic reports a running total).</summary>
    public void Files(long restored)
    {
        long seen;
        do seen = Interlocked.Read(ref _files);
        while (restored > seen && Interlocked.CompareExchange(ref _files, restored, seen) != seen);
        Report();
    }

    private void Report() =>
        report?.Invoke(new TransferProgress(tenant, Math.Min(total, Interlocked.Read(ref _database) + Interlocked.Read(ref _files)), total, _clock.Elapsed));
}

/// <summary>A read-only pass-through that tells how many bytes went by.</summary>
internal sealed class CountingStream(Stream inner, Action<long> counted) : Stream
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        if (n > 0) counted(n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        if (n > 0) counted(n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
