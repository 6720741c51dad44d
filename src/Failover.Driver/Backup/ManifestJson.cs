using System.Text;
using System.Text.Json;
using Failover.Core.Backup;
using Failover.Driver.Reports;

namespace Failover.Driver.Backup;

/// <summary>The manifest as stored in restic (manifest.json): the project's usual camelCase JSON.</summary>
public static class ManifestJson
{
    public const string FileName = BackupLayout.ManifestFileName;

    public static byte[] Serialize(Manifest manifest) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(manifest, Json.Options));

    public static Manifest Parse(string json) =>
        JsonSerializer.Deserialize<Manifest>(json, Json.Options)
        ?? throw new InvalidDataException("the manifest is empty");
}
