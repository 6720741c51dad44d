using System.Security.Cryptography;
using System.Text;

namespace Failover.Core.Backup;

/// <summary>
/// What a tenant's backup contained, recorded at backup time and compared after a restore:
/// the evidence that nothing of the tenant was lost between backup and verified restore.
/// </summary>
public sealed record Manifest(
    string Tenant,
    string RunId,
    DateTimeOffset CapturedAt,
    DatabaseManifest Database,
    FilesManifest Files)
{
    /// <summary>Bytes the tenant's data takes: the dump plus the files (what a restore has to move).</summary>
    public long Bytes => Database.DumpBytes + Files.Bytes;
}

/// <summary>The database part: every table's row count and content checksum, and the dump's own digest.</summary>
public sealed record DatabaseManifest(string Name, IReadOnlyList<TableManifest> Tables, long DumpBytes, string DumpSha256);

/// <summary>One table's row count and an order-independent checksum of its rows.</summary>
public sealed record TableManifest(string Schema, string Name, long Rows, string Checksum)
{
    public string QualifiedName => $"{Schema}.{Name}";
}

/// <summary>One file of the tenant's files directory, by path relative to it ('/' separated).</summary>
public sealed record FileEntry(string Path, long Size, string Sha256);

/// <summary>The files part: every file with its digest, and one checksum over the whole tree.</summary>
public sealed record FilesManifest(int Count, long Bytes, string TreeChecksum, IReadOnlyList<FileEntry> Entries)
{
    /// <summary>Builds the files manifest from its entries; the tree checksum covers paths, sizes and digests.</summary>
    public static FilesManifest Of(IEnumerable<FileEntry> entries)
    {
        var sorted = entries.OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        foreach (var e in sorted) text.Append(e.Path).Append('\t').Append(e.Size).Append('\t').Append(e.Sha256).Append('\n');
        var tree = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new FilesManifest(sorted.Count, sorted.Sum(e => e.Size), tree, sorted);
    }
}

/// <summary>The result of comparing a restored tenant with its manifest: empty differences mean coherent.</summary>
public sealed record Coherence(IReadOnlyList<string> Differences)
{
    public bool IsCoherent => Differences.Count == 0;

    /// <summary>Compares restored tables and files with what the backup recorded, naming every difference.</summary>
    public static Coherence Compare(Manifest expected, IReadOnlyList<TableManifest> restoredTables, FilesManifest restoredFiles) =>
        new([.. CompareTables(expected, restoredTables).Differences, .. CompareFiles(expected, restoredFiles).Differences]);

    /// <summary>
    /// The check of the restore plan's verify-database step: every table of the manifest with its rows and checksum,
    /// in manifest order, then the tables that were not in the backup (ordinal order).
    /// </summary>
    public static Coherence CompareTables(Manifest expected, IReadOnlyList<TableManifest> restoredTables)
    {
        var differences = new List<string>();
        var restored = restoredTables.ToDictionary(t => t.QualifiedName, StringComparer.Ordinal);
        foreach (var table in expected.Database.Tables)
        {
            var rows = table.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!restored.Remove(table.QualifiedName, out var got))
                differences.Add(RestoreFindings.TableMissing(table.QualifiedName, rows));
            else if (got.Rows != table.Rows)
                differences.Add(RestoreFindings.RowsDiffer(table.QualifiedName, got.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture), rows));
            else if (got.Checksum != table.Checksum)
                differences.Add(RestoreFindings.ContentsDiffer(table.QualifiedName, rows));
        }
        foreach (var extra in restored.Keys.Order(StringComparer.Ordinal))
            differences.Add(RestoreFindings.ExtraTable(extra));
        return new Coherence(differences);
    }

    /// <summary>The check of the verify-files step: every file of the manifest by digest (manifest order), then the files that were not in it.</summary>
    public static Coherence CompareFiles(Manifest expected, FilesManifest restoredFiles)
    {
        var differences = new List<string>();
        if (restoredFiles.TreeChecksum == expected.Files.TreeChecksum) return new Coherence(differences);
        var files = restoredFiles.Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (var file in expected.Files.Entries)
        {
            if (!files.Remove(file.Path, out var got)) differences.Add(RestoreFindings.FileMissing(file.Path));
            else if (got.Sha256 != file.Sha256) differences.Add(RestoreFindings.FileDiffers(file.Path));
        }
        foreach (var extra in files.Keys.Order(StringComparer.Ordinal))
            differences.Add(RestoreFindings.ExtraFile(extra));
        return new Coherence(differences);
    }
}
