using System.Runtime.InteropServices;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Topology;

/// <summary>
/// Reads a YAML file the tool was handed and loads it with bounds, so that a hostile file fails with its name
/// instead of hanging or overflowing the stack: only regular files (a FIFO or a link to /dev/zero would block
/// or never end), at most <see cref="MaxBytes"/>, nesting at most <see cref="MaxDepth"/> deep (the YAML loader
/// recurses per level), no alias inside its own anchor (a cycle), and aliases expanding to at most
/// <see cref="MaxNodes"/> nodes (an alias bomb is small on disk and exponential once walked).
/// </summary>
internal static class YamlGuard
{
    /// <summary>Stack files written by `pulumi config` are a few kilobytes; a megabyte leaves room for hand-written ones.</summary>
    public const int MaxBytes = 1 << 20;
    public const int MaxDepth = 64;
    public const int MaxNodes = 100_000;

    /// <summary>The file's text, refused (naming the file) when it is not a regular file or is too large.</summary>
    public static string ReadText(string path, string file)
    {
        TopologyException Problem(string message, string fix) => new(new TopologyProblem(file, "(file)", null, message, fix));
        try
        {
            if (FileType(path) is { } type && type != RegularFile)
                throw Problem($"not a regular file ({Describe(type)})", "replace it with a plain text file (or remove it); a link must lead to a regular file");
            // Read at most one byte more than allowed: a file that grows (or never ends) is still refused.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            var buffer = new byte[MaxBytes + 1];
            var total = 0;
            for (int n; total < buffer.Length && (n = stream.Read(buffer, total, buffer.Length - total)) > 0;) total += n;
            if (total > MaxBytes)
                throw Problem($"larger than {MaxBytes / 1024} KiB", "a stack file holds configuration only; remove what does not belong there");
            using var reader = new StreamReader(new MemoryStream(buffer, 0, total), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (IOException e) { throw Problem($"cannot read: {e.Message}", "check the path and permissions"); }
        catch (UnauthorizedAccessException e) { throw Problem($"cannot read: {e.Message}", "check the path and permissions"); }
    }

    /// <summary>Parses <paramref name="yaml"/> within the bounds; syntax errors and bound violations name the file and line.</summary>
    public static YamlStream Load(string yaml, string file, string fix)
    {
        try
        {
            CheckBounds(yaml, file);
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            return stream;
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message;
            throw new TopologyException(new TopologyProblem(file, "(yaml)", e.Start.Line > 0 ? (int)e.Start.Line : null,
                $"YAML syntax error: {e.Message}" + (inner is null ? "" : $" ({inner})"), fix));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // YamlDotNet throws these, without a position, on some malformed flow collections.
            throw new TopologyException(new TopologyProblem(file, "(yaml)", null, $"YAML syntax error: {e.Message}",
                "look for an unclosed [ or { and check the quoting; " + fix));
        }
    }

    /// <summary>Walks the parser's events (no recursion, nothing built) and refuses depth, cycles and expansion beyond the bounds.</summary>
    private static void CheckBounds(string yaml, string file)
    {
        TopologyException Problem(ParsingEvent at, string message, string fix) =>
            new(new TopologyProblem(file, "(yaml)", at.Start.Line > 0 ? (int)at.Start.Line : null, message, fix));
        var parser = new Parser(new StringReader(yaml));
        var open = new Stack<(string? Anchor, long Nodes)>();
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        void Add(long nodes, ParsingEvent at)
        {
            total += nodes;
            if (total > MaxNodes)
                throw Problem(at, $"the YAML expands to more than {MaxNodes} nodes (aliases repeat what their anchor holds)",
                    "write the values out instead of repeating anchors with aliases (*name); `pulumi config` never writes aliases");
            if (open.TryPop(out var top)) open.Push((top.Anchor, top.Nodes + nodes));
        }
        while (parser.MoveNext())
        {
            var e = parser.Current!;
            switch (e)
            {
                case NodeEvent node when node is MappingStart or SequenceStart:
                    if (open.Count >= MaxDepth)
                        throw Problem(e, $"nested more than {MaxDepth} levels deep", "a stack file needs a few levels; flatten the structure");
                    Add(1, e);
                    open.Push((node.Anchor.IsEmpty ? null : node.Anchor.Value, 1));
                    break;
                case MappingEnd or SequenceEnd:
                    var (anchor, nodes) = open.Pop();
                    if (anchor is not null) sizes[anchor] = nodes;
                    // Already counted in the total; the enclosing collection holds them too (for its own anchor's size).
                    if (open.TryPop(out var parent)) open.Push((parent.Anchor, parent.Nodes + nodes - 1));
                    break;
                case Scalar scalar:
                    if (!scalar.Anchor.IsEmpty) sizes[scalar.Anchor.Value] = 1;
                    Add(1, e);
                    break;
                case AnchorAlias alias:
                    var name = alias.Value.Value;
                    if (open.Any(f => f.Anchor == name))
                        throw Problem(e, $"the alias *{name} refers to the anchor &{name} it is inside of (a cycle)",
                            "remove the alias, or write the value out");
                    Add(sizes.TryGetValue(name, out var size) ? size : 1, e);
                    break;
            }
        }
    }

    private const int RegularFile = 0x8000;

    /// <summary>The file's type bits (S_IFMT of statx, following links), or null where statx is not available.</summary>
    private static int? FileType(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var buffer = new byte[256];
        try
        {
            // struct statx has the same layout on every Linux architecture: stx_mode is the u16 at offset 28.
            if (Statx(AtCwd, path, 0, StatxType, buffer) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
        return BitConverter.ToUInt16(buffer, 28) & 0xF000;
    }

    private static string Describe(int type) => type switch
    {
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0x4000 => "a directory",
        0xC000 => "a socket",
        _ => "a special file",
    };

    private const int AtCwd = -100;
    private const uint StatxType = 1;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
