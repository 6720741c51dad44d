using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Topology;

/// <summary>
/// The text of one stack file with its top-level <c>config:</c> entries located, for edits that keep every
/// other byte: comments, blank lines, order, quoting, line breaks and <c>secure:</c> values. YAML is only
/// parsed to find where things are; the text is never re-serialised (that would drop the comments).
/// </summary>
internal sealed class StackFileText
{
    /// <summary>
    /// One top-level entry under <c>config:</c>. Its lines are <see cref="KeyLine"/> to <see cref="End"/>: the key
    /// line and every line indented deeper (comments inside included). From <see cref="Unit"/> on it also owns the
    /// comment lines right above the key and the blank lines above those (its separator), which move with it.
    /// </summary>
    private sealed record Entry(string Key, YamlNode Value, int Unit, int KeyLine, int End);

    /// <summary>Entries cut out of a file, with the key that stood right before them (null: they opened <c>config:</c>).</summary>
    public sealed record Run(string? After, IReadOnlyList<string> Keys, IReadOnlyList<string> Lines);

    private readonly List<string> _lines;
    private readonly bool _finalBreak;
    private List<Entry> _entries = [];
    private string _indent = "  ";
    private int _configLine;
    private int _configEnd;

    public StackFileText(string text, string file)
    {
        File = file;
        // YAML also breaks lines at a lone CR and at NEL/LS/PS; the line arithmetic below knows only LF and CRLF.
        for (var i = 0; i < text.Length; i++)
            if ((text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n')) || text[i] is '\u0085' or '\u2028' or '\u2029')
                throw new TopologyException(new TopologyProblem(file, "(file)", text[..i].Count(c => c == '\n') + 1,
                    "a line break other than LF or CRLF", "save the file with LF (or CRLF) line endings, then run again"));
        _lines = UnifiedDiff.Lines(text);
        var lf = text.IndexOf('\n');
        Newline = lf > 0 && text[lf - 1] == '\r' ? "\r\n" : "\n";
        _finalBreak = text.Length == 0 || text.EndsWith('\n');
        Locate();
    }

    public string File { get; }
    public string Newline { get; }
    /// <summary>The text now; it ends with a line break exactly when the original did, whatever moved to or from the end.</summary>
    public string Text
    {
        get
        {
            var text = string.Concat(_lines);
            if (_finalBreak || !text.EndsWith('\n')) return text;
            return text[..^(text.EndsWith("\r\n", StringComparison.Ordinal) ? 2 : 1)];
        }
    }

    public bool Has(string key) => Find(key) is not null;

    /// <summary>The 1-based line of a key, for messages.</summary>
    public int? LineOf(string key) => Find(key) is { } e ? e.KeyLine + 1 : null;

    /// <summary>The text of a single-line scalar value (e.g. the value of <c>failover:role</c>); null when absent or empty.</summary>
    public string? Scalar(string key, string? child = null) =>
        Find(key) is { } e && ScalarNode(e, child) is { } n && !string.IsNullOrWhiteSpace(n.Value) ? n.Value.Trim() : null;

    /// <summary>Whether the entry holds a <c>secure:</c> value anywhere.</summary>
    public bool HasSecret(string key) => Find(key) is { } e && ContainsSecret(e.Value);

    /// <summary>Whether the entry's lines end with this comment (how an inserted line is recognised later).</summary>
    public bool EndsWithComment(string key, string comment) =>
        Find(key) is { } e && e.End == e.KeyLine && _lines[e.KeyLine].TrimEnd().EndsWith("# " + comment, StringComparison.Ordinal);

    /// <summary>
    /// Replaces a scalar value in place (keeping its quoting and any comment after it): the value of
    /// <paramref name="key"/>, or of its child <paramref name="child"/> when that is given.
    /// </summary>
    public void SetScalar(string key, string? child, string value)
    {
        var entry = Find(key) ?? throw new InvalidOperationException($"{File}: {key} is not there to set");
        var node = ScalarNode(entry, child);
        var shownKey = child is null ? key : $"{key}.{child}";
        if (node is null)
            throw Unsupported(shownKey, entry.KeyLine, $"it is not a single value{(child is null ? "" : $" inside a mapping under {key}")}",
                child is null ? $"write it on one line, e.g. `{key}: {value}`" : $"write {key} as a mapping with `{child}: {value}` on a line of its own");
        // An alias resolves to the node where its anchor stands; an anchored value is shared: editing either edits elsewhere.
        if (!node.Anchor.IsEmpty || node.Start.Line - 1 < entry.KeyLine || node.Start.Line - 1 > entry.End)
            throw Unsupported(shownKey, entry.KeyLine, "its value is a YAML anchor or alias", $"write the value itself, e.g. `{child ?? key}: {node.Value?.Trim()}`");
        if (node.Start.Line != node.End.Line || node.Style is ScalarStyle.Literal or ScalarStyle.Folded)
            throw Unsupported(shownKey, (int)node.Start.Line - 1, "its value spans several lines",
                $"write it on one line, e.g. `{child ?? key}: {node.Value?.Trim()}`");
        if (string.IsNullOrWhiteSpace(node.Value))
        {
            if (child is not null || entry.End != entry.KeyLine)
                throw Unsupported(shownKey, entry.KeyLine, "it has no value", $"write `{child ?? key}: {value}`");
            _lines[entry.KeyLine] = _indent + key + ": " + value + Terminator(entry.KeyLine);
        }
        else
        {
            var line = _lines[(int)node.Start.Line - 1];
            int from = (int)node.Start.Column - 1, to = (int)node.End.Column - 1;
            var quote = node.Style switch { ScalarStyle.SingleQuoted => "'", ScalarStyle.DoubleQuoted => "\"", _ => "" };
            _lines[(int)node.Start.Line - 1] = line[..from] + quote + value + quote + line[to..];
        }
        Locate();
    }

    /// <summary>Removes an entry with its leading comments and the blank lines above them.</summary>
    public void Remove(string key)
    {
        if (Find(key) is not { } e) return;
        _lines.RemoveRange(e.Unit, e.End - e.Unit + 1);
        Locate();
    }

    /// <summary>
    /// Cuts the entries named by <paramref name="keys"/> out of the file, each run of adjacent ones with the
    /// key that stood before it, so that <see cref="Insert"/> can put them at the same place in another file.
    /// </summary>
    public IReadOnlyList<Run> Cut(IEnumerable<string> keys)
    {
        var wanted = keys.ToHashSet();
        var runs = new List<Run>();
        for (var i = 0; i < _entries.Count; i++)
        {
            if (!wanted.Contains(_entries[i].Key)) continue;
            var first = i;
            while (i + 1 < _entries.Count && wanted.Contains(_entries[i + 1].Key)) i++;
            var from = _entries[first].Unit;
            var to = _entries[i].End;
            var lines = _lines.GetRange(from, to - from + 1).Select(Bare).ToList();
            runs.Add(new Run(first == 0 ? null : _entries[first - 1].Key, _entries.GetRange(first, i - first + 1).Select(e => e.Key).ToList(), lines));
        }
        // From the bottom up, so that the earlier runs' line numbers still hold.
        foreach (var run in Enumerable.Reverse(runs))
        {
            var entries = run.Keys.Select(k => Find(k)!).ToList();
            _lines.RemoveRange(entries[0].Unit, entries[^1].End - entries[0].Unit + 1);
        }
        Locate();
        return runs;
    }

    /// <summary>
    /// Inserts a run after the entry it followed in its own file; when this file has no such entry, after the
    /// first of <paramref name="fallbacks"/> it has, else after the last entry.
    /// </summary>
    public void Insert(Run run, params string[] fallbacks)
    {
        var anchor = (run.After is null ? null : Find(run.After))
            ?? fallbacks.Select(Find).FirstOrDefault(e => e is not null)
            ?? _entries[^1];
        InsertLinesAfter(anchor, run.Lines);
    }

    /// <summary>
    /// Puts an entry written as <paramref name="lines"/> (the key line first and unindented, deeper lines indented from it;
    /// the file's own indentation is added) in place of <paramref name="key"/>'s own lines, the comments above it kept; a key
    /// the file does not have is added after the last entry.
    /// </summary>
    public void Set(string key, IReadOnlyList<string> lines)
    {
        var indented = lines.Select(l => _indent + l).ToList();
        if (Find(key) is not { } entry)
        {
            InsertLinesAfter(_entries[^1], indented);
            return;
        }
        var last = Terminator(entry.End);
        _lines.RemoveRange(entry.KeyLine, entry.End - entry.KeyLine + 1);
        _lines.InsertRange(entry.KeyLine, indented.Select((l, i) => l + (i < indented.Count - 1 ? Newline : last)));
        Locate();
    }

    /// <summary>Adds a one-line entry <c>key: value</c> after the first of <paramref name="after"/> the file has.</summary>
    public void InsertLine(string key, string value, string comment, params string[] after)
    {
        var anchor = after.Select(Find).FirstOrDefault(e => e is not null) ?? _entries[^1];
        InsertLinesAfter(anchor, [$"{_indent}{key}: {value} # {comment}"]);
    }

    private void InsertLinesAfter(Entry anchor, IReadOnlyList<string> lines)
    {
        var at = anchor.End + 1;
        if (!_lines[anchor.End].EndsWith('\n')) _lines[anchor.End] += Newline;
        _lines.InsertRange(at, lines.Select(l => l + Newline));
        Locate();
    }

    public TopologyException Unsupported(string key, int? line, string what, string fix) =>
        new(new TopologyProblem(File, key, line + 1, $"failover migrate cannot rewrite this safely: {what}", fix + ", then run again"));

    private Entry? Find(string key) => _entries.FirstOrDefault(e => e.Key == key);

    private static YamlScalarNode? ScalarNode(Entry entry, string? child) => child is null
        ? entry.Value as YamlScalarNode
        : entry.Value is YamlMappingNode map && map.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode { Value: var k } && k == child).Value is YamlScalarNode s
            ? s : null;

    private static bool ContainsSecret(YamlNode node) => node switch
    {
        YamlMappingNode m when m.Children.Keys.Any(k => k is YamlScalarNode { Value: "secure" }) => true,
        YamlMappingNode m => m.Children.Values.Any(ContainsSecret),
        YamlSequenceNode s => s.Children.Any(ContainsSecret),
        _ => false,
    };

    private string Terminator(int line) => _lines[line].EndsWith("\r\n", StringComparison.Ordinal) ? "\r\n" : _lines[line].EndsWith('\n') ? "\n" : "";

    private static string Bare(string line) => line.TrimEnd('\n').TrimEnd('\r');

    private static bool IsBlank(string line) => string.IsNullOrWhiteSpace(line);
    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;
    private static bool IsComment(string line) => line.TrimStart().StartsWith('#');

    /// <summary>Finds the entries under <c>config:</c> and where each one's lines begin and end.</summary>
    private void Locate()
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(Text)); }
        catch (Exception e) when (e is YamlException or InvalidOperationException or ArgumentException or FormatException)
        {
            var line = e is YamlException y && y.Start.Line > 0 ? (int?)y.Start.Line : null;
            throw new TopologyException(new TopologyProblem(File, "(yaml)", line, $"YAML syntax error: {e.Message}", "fix the file, then run again"));
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw Unsupported("config", null, "the file is not one YAML mapping", "start the file with `config:`");
        var rootKeys = root.Children.ToList();
        var at = rootKeys.FindIndex(kv => kv.Key is YamlScalarNode { Value: "config" });
        if (at < 0 || rootKeys[at].Value is not YamlMappingNode { Style: not MappingStyle.Flow } config || config.Children.Count == 0)
            throw Unsupported("config", at < 0 ? null : (int)rootKeys[at].Key.Start.Line - 1, "`config:` is not a block mapping of keys",
                "write each key on its own line, indented below `config:`");
        _configLine = (int)rootKeys[at].Key.Start.Line - 1;
        _configEnd = at + 1 < rootKeys.Count ? (int)rootKeys[at + 1].Key.Start.Line - 1 : _lines.Count;

        var keys = config.Children.ToList();
        var indent = (int)keys[0].Key.Start.Column - 1;
        _indent = _lines[(int)keys[0].Key.Start.Line - 1][..indent];
        var entries = new List<Entry>();
        for (var i = 0; i < keys.Count; i++)
        {
            var (k, v) = keys[i];
            var keyLine = (int)k.Start.Line - 1;
            var regionEnd = i + 1 < keys.Count ? (int)keys[i + 1].Key.Start.Line - 1 : _configEnd;
            var end = regionEnd - 1;
            // Blank lines and comments at the key's own indentation after the value belong to what follows.
            while (end > keyLine && (IsBlank(_lines[end]) || (IsComment(_lines[end]) && Indent(_lines[end]) <= indent))) end--;
            var floor = i == 0 ? _configLine + 1 : entries[^1].End + 1;
            var lead = keyLine;
            while (lead > floor && IsComment(_lines[lead - 1]) && Indent(_lines[lead - 1]) <= indent) lead--;
            var unit = lead;
            while (unit > floor && IsBlank(_lines[unit - 1])) unit--;
            entries.Add(new Entry((k as YamlScalarNode)?.Value ?? "", v, unit, keyLine, end));
        }
        _entries = entries;
    }
}
