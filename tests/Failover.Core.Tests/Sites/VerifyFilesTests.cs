using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Sites;

namespace Failover.Core.Tests.Sites;

/// <summary>
/// The cloud restore's file check (the recipe's verify_files) on names a tenant's users really upload: sha256sum escapes
/// a name with a backslash and the check once split names on tabs, so such a tenant failed its restore in the cloud
/// while the local restore passed it.
/// </summary>
public class VerifyFilesTests
{
    private static readonly string[] Names = ["plain.txt", @"back\slash.txt", "tab\there.txt", "two  spaces.txt", "ünï cødé.pdf", @"dir\with\/nested.bin"];

    private static string Hex(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    /// <summary>Writes each file under files/ and a manifest of them, then runs verify_files after <paramref name="change"/>.</summary>
    private static (int Code, string Output) Verify(string change)
    {
        var entries = Names.Select(n => new { path = n, size = Encoding.UTF8.GetByteCount($"contents of {n}"), sha256 = Hex($"contents of {n}") });
        var manifest = JsonSerializer.Serialize(new { files = new { entries } });
        var writes = string.Join("\n", Names.Select(n =>
        {
            var dir = Path.GetDirectoryName(n);
            return (string.IsNullOrEmpty(dir) ? "" : $"mkdir -p files/{Sh.Quote(dir)}; ") + $"printf '%s' {Sh.Quote($"contents of {n}")} > files/{Sh.Quote(n)}";
        }));
        return UserDataTests.Bash($"""
            mkdir -p files
            {writes}
            printf '%s' {Sh.Quote(manifest)} > manifest.json
            {change}
            verify_files "$TMPDIR/files" "$TMPDIR/manifest.json"; echo "exit $?"
            """);
    }

    [Fact]
    public void Files_whose_names_have_backslashes_tabs_and_spaces_pass_when_they_match_the_manifest()
    {
        UserDataTests.RequireOnPath("jq");
        var result = Verify("");
        Assert.True(result.Output.Trim() == "exit 0", result.Output);
    }

    [Fact]
    public void A_changed_a_missing_and_an_extra_file_with_such_names_are_each_named()
    {
        UserDataTests.RequireOnPath("jq");
        var result = Verify(@"printf x >> 'files/back\slash.txt'; rm 'files/tab	here.txt'; echo new > 'files/new\one.txt'");
        Assert.EndsWith("exit 1", result.Output.Trim());
        Assert.Contains(RestoreFindings.FileDiffers(@"back\slash.txt"), result.Output);
        Assert.Contains(RestoreFindings.FileMissing("tab\there.txt"), result.Output);
        Assert.Contains(RestoreFindings.ExtraFile(@"new\one.txt"), result.Output);
        Assert.DoesNotContain("plain.txt", result.Output);
    }
}
