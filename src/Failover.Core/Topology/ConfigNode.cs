using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Topology;

/// <summary>
/// A node of a stack file's YAML that knows its file, key path and line, so that every read
/// that fails says exactly where and how to fix it.
/// </summary>
internal sealed class ConfigNode(YamlNode node, string file, string key)
{
    public YamlNode Node { get; } = node;
    public string File { get; } = file;
    public string Key { get; } = key;
    public int? Line => Node.Start.Line > 0 ? (int)Node.Start.Line : null;

    public TopologyException Error(string message, string fix) =>
        new(new TopologyProblem(File, Key, Line, message, fix));

    /// <summary>Pulumi's encrypted form: a mapping whose only key is <c>secure</c>.</summary>
    public bool IsSecret =>
        Node is YamlMappingNode m && m.Children.Count == 1 && m.Children.Keys.First() is YamlScalarNode { Value: "secure" };

    public bool IsNull => Node is YamlScalarNode s && (s.Value is null or "" or "~" or "null") && s.Style == YamlDotNet.Core.ScalarStyle.Plain;

    public SecretValue AsSecret()
    {
        if (!IsSecret) throw Error("expected a secret", $"set it with `pulumi config set --secret {Key.Split('.')[0]} ...`");
        if (((YamlMappingNode)Node).Children.Values.First() is not YamlScalarNode { Value: { } text } || string.IsNullOrWhiteSpace(text))
            throw Error("the secure: value is not a ciphertext", $"set the secret again with `pulumi config set --secret {Key.Split('.', '[')[0]} ...` (it writes secure: v1:...)");
        return new SecretValue(text.Trim());
    }

    /// <summary>
    /// A one-line text value. Control characters and line breaks (CR, NEL, LS and PS too: YAML and PyYAML break lines
    /// at them) are refused: values become names, paths and arguments, and a break would start a new line in a script.
    /// </summary>
    public string AsString() => Text(allowLineBreaks: false);

    /// <summary>A shell command (hooks): it may span lines (LF and tabs); other control characters are refused.</summary>
    public string AsCommand() => Text(allowLineBreaks: true);

    private string Text(bool allowLineBreaks)
    {
        if (IsSecret)
            throw Error("a secret is not allowed here", "write the value in plain text; only credentials are secrets");
        if (Node is not YamlScalarNode s || IsNull || string.IsNullOrWhiteSpace(s.Value))
            throw Error($"expected a text value, found {Describe()}", "write a single value on this key");
        var value = s.Value!.Trim();
        var bad = value.ToList().FindIndex(c => IsBreakOrControl(c) && !(allowLineBreaks && c is '\n' or '\t'));
        if (bad >= 0)
            throw Error($"the value holds a control character or line break (U+{(int)value[bad]:X4} at position {bad + 1})",
                allowLineBreaks ? "remove it; separate commands with LF line breaks only" : "write the value on one line, without control characters");
        return value;
    }

    /// <summary>C0 and C1 controls (CR, LF, NEL...) and the Unicode line and paragraph separators.</summary>
    internal static bool IsBreakOrControl(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    /// <summary>A value as a message may show it: control characters and line breaks written as \uXXXX, so an error cannot forge lines.</summary>
    internal static string Printable(string value) =>
        string.Concat(value.Select(c => IsBreakOrControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    public int AsInt(int min, int max)
    {
        var text = AsString();
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw Error($"'{text}' is not a whole number", $"write a whole number from {min} to {max}");
        if (v < min || v > max)
            throw Error($"{v} is out of range", $"write a whole number from {min} to {max}");
        return v;
    }

    public double AsNumber(double min, double max)
    {
        var text = AsString();
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || double.IsNaN(v))
            throw Error($"'{text}' is not a number", $"write a number from {min} to {max}");
        if (v < min || v > max)
            throw Error($"{v} is out of range", $"write a number from {min} to {max}");
        return v;
    }

    public TimeSpan AsDuration(TimeSpan min, TimeSpan max)
    {
        var text = AsString();
        if (!Durations.TryParse(text, out var v))
            throw Error($"'{text}' is not a duration", "write a duration such as 90s, 15m, 1h, 1h30m or 30d");
        if (v < min || v > max)
            throw Error($"{text} is out of range", $"write a duration from {Durations.Format(min)} to {Durations.Format(max)}");
        return v;
    }

    public T AsEnum<T>(IReadOnlyDictionary<string, T> names)
    {
        var text = AsString();
        if (names.TryGetValue(text.ToLowerInvariant(), out var v)) return v;
        throw Error($"unknown value '{text}'{Suggest(text, names.Keys)}", $"use one of: {string.Join(", ", names.Keys)}");
    }

    public IReadOnlyList<ConfigNode> AsList()
    {
        if (Node is not YamlSequenceNode seq)
            throw Error($"expected a list, found {Describe()}", "write a YAML list (lines starting with '- ')");
        return seq.Children.Select((n, i) => new ConfigNode(n, File, $"{Key}[{i}]")).ToList();
    }

    /// <summary>A list, or a single value read as a list of one.</summary>
    public IReadOnlyList<ConfigNode> AsListOrOne() => Node is YamlSequenceNode ? AsList() : [this];

    public ConfigMap AsMap(params string[] allowedKeys)
    {
        if (Node is not YamlMappingNode map || IsSecret)
            throw Error($"expected a mapping of keys, found {Describe()}", $"write keys below it: {string.Join(", ", allowedKeys)}");
        var result = new ConfigMap(this);
        foreach (var (k, v) in map.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "";
            var child = new ConfigNode(v, File, $"{Key}.{name}");
            if (!allowedKeys.Contains(name))
                throw new TopologyException(new TopologyProblem(File, $"{Key}.{name}", k.Start.Line > 0 ? (int)k.Start.Line : null,
                    $"unknown key '{name}'{Suggest(name, allowedKeys)}", $"the keys allowed under {Key} are: {string.Join(", ", allowedKeys)}"));
            result.Add(name, child);
        }
        return result;
    }

    private string Describe() => Node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode m when IsSecret => "a secret",
        YamlMappingNode => "a mapping",
        _ when IsNull => "nothing",
        _ => "a text value",
    };

    /// <summary>" (did you mean 'x'?)" when a close name exists: typos are the common case.</summary>
    internal static string Suggest(string text, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (c, d: Distance(text.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(x => x.d <= Math.Max(1, x.c.Length / 3))
            .OrderBy(x => x.d).Select(x => x.c).FirstOrDefault();
        return best is null ? "" : $" (did you mean '{best}'?)";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

/// <summary>The keys of one YAML mapping, read by name.</summary>
internal sealed class ConfigMap(ConfigNode owner)
{
    private readonly Dictionary<string, ConfigNode> _children = new();
    public ConfigNode Owner { get; } = owner;

    public void Add(string key, ConfigNode node) => _children[key] = node;

    public ConfigNode? Optional(string key) =>
        _children.TryGetValue(key, out var n) && !n.IsNull ? n : null;

    public ConfigNode Required(string key, string fix) => Optional(key) ?? throw Missing(key, fix);

    public TopologyException Missing(string key, string fix) =>
        new(new TopologyProblem(Owner.File, $"{Owner.Key}.{key}", Owner.Line, $"required key '{key}' is missing", fix));
}
