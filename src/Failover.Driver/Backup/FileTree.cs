using System.Security.Cryptography;
using Failover.Core.Backup;

namespace Failover.Driver.Backup;

/// <summary>Reads a tenant's files directory into a files manifest: every regular file with its SHA-256.</summary>
public static class FileTree
{
    /// <summary>
    /// Scans <paramref name="directory"/>; a missing directory is an empty tree (a tenant without files).
    /// Symbolic links are not followed, so a link cannot pull files from outside the tenant into its manifest.
    /// </summary>
    public static async Task<FilesManifest> ScanAsync(string directory, CancellationToken cancellation)
    {
        var entries = new List<FileEntry>();
        if (Directory.Exists(directory))
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false };
            foreach (var path in Directory.EnumerateFiles(directory, "*", options))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, useAsync: true);
                var hash = await SHA256.HashDataAsync(stream, cancellation);
                entries.Add(new FileEntry(Path.GetRelativePath(directory, path).Replace('\\', '/'), stream.Length, Convert.ToHexStringLower(hash)));
            }
        }
        return FilesManifest.Of(entries);
    }
}
