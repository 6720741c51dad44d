using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Failover.Driver.Reports;

/// <summary>What checking a report file's seal found: the hash it states, the hash of its bytes, and what it names.</summary>
/// <param name="Stated">The SHA-256 on the file's last line; null when the file has no seal line.</param>
/// <param name="Actual">The SHA-256 of every byte above the last line.</param>
/// <param name="RunId">The run the report names.</param>
/// <param name="JournalHead">The journal chain head the report states.</param>
public sealed record SealCheck(string? Stated, string Actual, string? RunId, string? JournalHead)
{
    public bool Matches => Stated == Actual;
}

/// <summary>
/// The seal of a report an auditor files: its last line carries the SHA-256 (lower-case hex) of every byte above that
/// line, UTF-8 as written. Anyone can check it without the tool: <c>head -n -1 report.md | sha256sum</c>.
/// </summary>
public static partial class ReportSeal
{
    public const string MarkdownLine = "SHA-256 of this report (every byte above this line): ";
    public const string HtmlLine = "SHA-256 of this page (every byte above this line): ";

    public static string SealMarkdown(string body) => body + MarkdownLine + Hash(body) + "\n";

    public static string SealHtml(string body) => body + $"<footer id=\"report-sha256\">{HtmlLine}<code>{Hash(body)}</code></footer>\n";

    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Checks a report file's bytes against the hash on its last line.</summary>
    public static SealCheck Verify(byte[] file)
    {
        var end = file.Length;
        if (end > 0 && file[end - 1] == (byte)'\n') end--;
        var lastLineStart = Array.LastIndexOf(file, (byte)'\n', Math.Max(end - 1, 0)) + 1;
        if (end == 0) lastLineStart = 0;
        var body = file.AsSpan(0, lastLineStart);
        var lastLine = Encoding.UTF8.GetString(file, lastLineStart, end - lastLineStart);
        var stated = (lastLine.Contains(MarkdownLine, StringComparison.Ordinal) || lastLine.Contains(HtmlLine, StringComparison.Ordinal))
                     && HexPattern().Match(lastLine) is { Success: true } m ? m.Value : null;
        var text = Encoding.UTF8.GetString(body);
        return new SealCheck(stated, Convert.ToHexStringLower(SHA256.HashData(body)),
            RunPattern().Match(text) is { Success: true } run ? run.Groups[1].Value : null,
            HeadPattern().Match(text) is { Success: true } head ? head.Groups[1].Value : null);
    }

    [GeneratedRegex("[0-9a-f]{64}")]
    private static partial Regex HexPattern();

    [GeneratedRegex(@"Run (?:`|<code>)([0-9]{8}-[0-9]{6}-[0-9a-f]+)")]
    private static partial Regex RunPattern();

    [GeneratedRegex(@"Journal chain head \(SHA-256 of its last record[^)]*\): (?:`|<code>)([0-9a-f]{64})")]
    private static partial Regex HeadPattern();
}
