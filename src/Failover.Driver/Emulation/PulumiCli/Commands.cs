using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Failover.Driver.Emulation;
using Serilog;

namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>The commands the driver uses, answering with the real CLI's output shapes and error texts.</summary>
public sealed partial class Commands(
    CommandLine line, State state, Script script, Dictionary<string, string> env, string stateDir, TextWriter stdout, TextWriter stderr)
{
    private static readonly JsonSerializerOptions Printed = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string _cwd = Path.GetFullPath(line.Value("cwd") ?? ".", Environment.CurrentDirectory);

    public int Run(Rule? rule)
    {
        switch (line.Command)
        {
            case "version": stdout.WriteLine($"v{script.Version}"); return 0;
            case "whoami": WhoAmI(); return 0;
            case "stack ls": ListStacks(); break;
            case "stack select": Select(); break;
            case "stack init": Init(); break;
            case "stack rm": Remove(); break;
            case "stack output": Outputs(); break;
            case "stack history": History(); break;
            case "config": ListConfig(); break;
            case "config get": GetConfig(); break;
            case "config set": SetConfig(); break;
            case "config set-all": SetAllConfig(); break;
            case "config rm-all": RemoveAllConfig(); break;
            case "up": { using var update = new Update(this, rule?.ResourceFailure); return update.Up(); }
            case "destroy": { using var update = new Update(this, null); return update.Destroy(); }
            case "cancel": Cancel(); break;
        }
        state.Save(stateDir);
        return 0;
    }

    // ---- context shared with Update ----

    internal CommandLine Line => line;
    internal Script Script => script;
    internal TextWriter Stdout => stdout;
    internal void Save() => state.Save(stateDir);

    /// <summary>Where the emulated cloud lives when this `pulumi` emulates the providers (else it follows the script).</summary>
    internal string? EmulationDirectory => env.GetValueOrDefault(EmulatedCloud.DirectoryVariable) is { Length: > 0 } d ? d : null;

    /// <summary>The emulated `up` of a stack: Core's program over the stack files with this stack's config, the providers emulated.</summary>
    internal EmulatedUpdate EmulateUp(string stack, StackRecord record)
    {
        var topology = StackEmulation.OverlaidTopology(_cwd, stack, record.Config);
        using var log = EmulatorLog();
        return StackEmulation.UpAsync(EmulationDirectory!, topology, stack,
            name => state.Stacks.TryGetValue(name, out var other) ? other.Outputs : null, env, log, CancellationToken.None).GetAwaiter().GetResult();
    }

    internal EmulatedUpdate EmulateDestroy(string stack)
    {
        using var log = EmulatorLog();
        return StackEmulation.DestroyAsync(EmulationDirectory!, stack, log, CancellationToken.None).GetAwaiter().GetResult();
    }

    private Serilog.Core.Logger EmulatorLog()
    {
        Directory.CreateDirectory(EmulationDirectory!);
        return new Serilog.LoggerConfiguration().MinimumLevel.Debug()
            .WriteTo.File(Path.Combine(EmulationDirectory!, "emulator.log"), shared: true).CreateLogger();
    }

    /// <summary>The project name from the nearest Pulumi.yaml at or above the working directory.</summary>
    internal string Project()
    {
        for (var dir = new DirectoryInfo(_cwd); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, "Pulumi.yaml");
            if (!File.Exists(file)) continue;
            var name = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("name:"));
            return name is null ? throw new CliError($"project is missing a 'name' attribute") : name["name:".Length..].Trim().Trim('"', '\'');
        }
        throw new CliError($"no Pulumi.yaml project file found (searching upwards from {_cwd}). " +
            "If you have not created a project yet, use `pulumi new` to do so: no project file found");
    }

    /// <summary>The stack the command is about: --stack, else PULUMI_STACK, else the selected one; it must exist.</summary>
    internal (string Name, StackRecord Record) Stack()
    {
        var name = ShortName(line.Value("stack") ?? env.GetValueOrDefault("PULUMI_STACK") ?? state.Current
            ?? throw new CliError("no stack selected; specify a stack name with --stack", ExitCodes.StackNotFound));
        return state.Stacks.TryGetValue(name, out var record)
            ? (name, record)
            : throw new CliError($"no stack named '{name}' found", ExitCodes.StackNotFound);
    }

    private static string ShortName(string name) => name.Split('/')[^1];

    private string Qualified(string stack) => $"organization/{Project()}/{stack}";

    /// <summary>The passphrase of this run; errors as the passphrase secrets manager does.</summary>
    internal string Passphrase(StackRecord? stack, string prefix = "")
    {
        string? given = env.TryGetValue("PULUMI_CONFIG_PASSPHRASE", out var p) ? p
            : env.GetValueOrDefault("PULUMI_CONFIG_PASSPHRASE_FILE") is { Length: > 0 } file
                ? (File.Exists(file) ? File.ReadAllText(file).Trim() : throw new CliError($"unable to read PULUMI_CONFIG_PASSPHRASE_FILE: open {file}: no such file or directory"))
                : null;
        if (given is null)
            throw new CliError(prefix + "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables");
        if (stack?.Passphrase is { } expected && expected != given)
            throw new CliError("failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase");
        return given;
    }

    internal void PrintJson(JsonNode? node) => stdout.Write((node?.ToJsonString(Printed) ?? "null") + "\n");

    private void RequireYes(string message)
    {
        if (!line.Has("yes") && !line.Has("skip-preview") && env.GetValueOrDefault("PULUMI_SKIP_CONFIRMATIONS") is not ("true" or "1"))
            throw new CliError(message, ExitCodes.Configuration);
    }

    // ---- whoami, stacks ----

    private void WhoAmI()
    {
        var url = env.GetValueOrDefault("PULUMI_BACKEND_URL") ?? "file://~";
        if (line.Has("json")) PrintJson(new JsonObject { ["user"] = Environment.UserName, ["url"] = url });
        else stdout.WriteLine(Environment.UserName);
    }

    private void ListStacks()
    {
        Project();
        var rows = new JsonArray();
        foreach (var (name, s) in state.Stacks)
        {
            var row = new JsonObject { ["name"] = name, ["current"] = name == state.Current };
            if (s.LastUpdate is { } at) row["lastUpdate"] = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
            if (s.LastUpdate is not null) row["resourceCount"] = s.Resources.Count + (s.HasStackResource ? 1 : 0);
            rows.Add(row);
        }
        if (line.Has("json")) { PrintJson(rows); return; }
        stdout.WriteLine("NAME  LAST UPDATE  RESOURCE COUNT");
        foreach (var r in rows) stdout.WriteLine($"{r!["name"]}{((bool)r["current"]! ? "*" : "")}  {r["lastUpdate"] ?? "n/a"}  {r["resourceCount"] ?? "n/a"}");
    }

    private string NameArgument()
    {
        var flag = line.Value("stack");
        var positional = line.Positionals.FirstOrDefault();
        if (flag is not null && positional is not null) throw new CliError("only one of --stack or argument stack name may be specified, not both");
        return ShortName(flag ?? positional ?? throw new CliError("no stack selected; specify a stack name with --stack", ExitCodes.StackNotFound));
    }

    private void Select()
    {
        Project();
        var name = NameArgument();
        if (!state.Stacks.ContainsKey(name))
        {
            if (!line.Has("create")) throw new CliError($"no stack named '{name}' found", ExitCodes.StackNotFound);
            Create(name);
        }
        state.Current = name;
    }

    private void Init()
    {
        Project();
        var name = NameArgument();
        Create(name);
        if (!line.Has("no-select")) state.Current = name;
    }

    private void Create(string name)
    {
        // A DIY backend makes the passphrase secrets manager before it checks whether the stack exists.
        var passphrase = line.Value("secrets-provider") is null or "passphrase"
            ? Passphrase(null, "could not create secrets manager for new stack: ")
            : null;
        if (state.Stacks.ContainsKey(name)) throw new CliError($"stack '{Qualified(name)}' already exists");
        state.Stacks[name] = new StackRecord { Passphrase = passphrase };
        stderr.WriteLine($"Created stack '{name}'");
    }

    private void Remove()
    {
        Project();
        if (!line.Has("yes")) throw new CliError("non-interactive mode requires --yes flag", ExitCodes.Configuration);
        var name = NameArgument();
        if (!state.Stacks.TryGetValue(name, out var s)) throw new CliError($"no stack named '{name}' found", ExitCodes.StackNotFound);
        if (s.Resources.Count + (s.HasStackResource ? 1 : 0) > 0 && !line.Has("force"))
            throw new CliError($"'{name}' still has resources; removal rejected. Possible actions:\n" +
                $"- Make sure that '{name}' is the stack that you want to destroy\n" +
                "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n" +
                "- Run `pulumi stack rm --force` to override this error");
        state.Stacks.Remove(name);
        if (state.Current == name) state.Current = null;
        stdout.WriteLine($"Stack '{name}' has been removed!");
    }

    private void Outputs()
    {
        Project();
        var (_, s) = Stack();
        var reveal = line.Has("show-secrets");
        if (reveal && s.Outputs.Values.Any(Secrets.Contains)) Passphrase(s);
        var rendered = new JsonObject(s.Outputs.Select(o => KeyValuePair.Create(o.Key, Secrets.Render(o.Value, reveal ? null : () => "[secret]"))));
        if (line.Positionals.FirstOrDefault() is { } one)
        {
            var value = rendered.TryGetPropertyValue(one, out var v) ? v : throw new CliError($"current stack does not have output property '{one}'");
            if (line.Has("json")) PrintJson(value);
            else stdout.WriteLine(value is JsonValue jv && jv.TryGetValue<string>(out var text) ? text : value?.ToJsonString());
            return;
        }
        if (line.Has("json")) { PrintJson(rendered); return; }
        stdout.WriteLine($"Current stack outputs ({rendered.Count}):");
        stdout.WriteLine("    OUTPUT  VALUE");
        foreach (var (k, v) in rendered) stdout.WriteLine($"    {k}  {(v is JsonValue jv && jv.TryGetValue<string>(out var t) ? t : v?.ToJsonString())}");
    }

    private void History()
    {
        Project();
        var (_, s) = Stack();
        var size = int.TryParse(line.Value("page-size"), out var n) && n > 0 ? n : int.MaxValue;
        var page = int.TryParse(line.Value("page"), out var p) && p > 0 ? p : 1;
        var reveal = line.Has("show-secrets");
        var rows = new JsonArray();
        foreach (var h in Enumerable.Reverse(s.History).Skip((page - 1) * Math.Min(size, 100000)).Take(size))
        {
            var copy = h.DeepClone().AsObject();
            if (!reveal && copy["config"] is JsonObject config)
                foreach (var (_, entry) in config)
                    if (entry is JsonObject e && (bool?)e["secret"] == true) e.Remove("value");
            rows.Add(copy);
        }
        PrintJson(rows);
    }

    private void Cancel()
    {
        Project();
        if (!line.Has("yes")) throw new CliError("--yes must be passed in to proceed when running in non-interactive mode", ExitCodes.Configuration);
        var (name, _) = Stack();
        stdout.WriteLine($"The currently running update for '{name}' has been canceled!");
    }

    // ---- config ----

    /// <summary>Fully qualified key and path segments: bare keys get the project's namespace.</summary>
    private (string Key, List<object> Path) ParseKey(string key)
    {
        var project = Project();
        if (!line.Has("path")) return (key.Contains(':') ? key : $"{project}:{key}", []);
        var segments = PathSegment().Matches(key).Select(m => m.Groups["index"].Success ? (object)int.Parse(m.Groups["index"].Value) : m.Groups["name"].Value).ToList();
        var first = (string)segments[0];
        return (first.Contains(':') ? first : $"{project}:{first}", segments.Skip(1).ToList());
    }

    [GeneratedRegex(@"\[(?<index>\d+)\]|(?<name>[^.\[\]]+)")]
    private static partial Regex PathSegment();

    private static string Display(string key, string project) => key.StartsWith(project + ":") ? key[(project.Length + 1)..] : key;

    private void SetConfig()
    {
        var (name, s) = Stack();
        var key = line.Positionals.ElementAtOrDefault(0) ?? throw new CliError("accepts between 1 and 2 arg(s), received 0");
        var value = line.AfterDashDash.FirstOrDefault() ?? line.Positionals.ElementAtOrDefault(1) ?? Console.In.ReadToEnd().TrimEnd('\n', '\r');
        var secret = line.Has("secret");
        if (secret && line.Has("plaintext"))
            throw new CliError("if any flags in the group [secret plaintext type] are set none of the others can be; [plaintext secret] were set");
        if (!secret && !line.Has("plaintext") && LooksSecret().IsMatch(key) && value.Length >= 8)
            throw new CliError($"config value for '{key}' looks like a secret; rerun with --secret to encrypt it, or --plaintext if you meant to store in plaintext");
        Set(name, s, key, value, secret);
    }

    /// <summary>`config set-all`: each pair after its --plaintext or --secret, split at the first `=`, set in order.</summary>
    private void SetAllConfig()
    {
        var (name, s) = Stack();
        if (line.Positionals.Count > 0) throw new CliError($"accepts 0 arg(s), received {line.Positionals.Count}");
        foreach (var (flag, pair) in line.Values.Where(v => v.Flag is "plaintext" or "secret"))
        {
            var at = pair.IndexOf('=');
            if (at < 0) throw new CliError($"could not parse {pair} as a configuration key/value pair");
            Set(name, s, pair[..at], pair[(at + 1)..], flag == "secret");
        }
    }

    private void Set(string name, StackRecord s, string key, string value, bool secret)
    {
        if (secret) Passphrase(s);
        var (full, path) = ParseKey(key);
        JsonNode leaf = secret ? Secrets.Wrap(JsonValue.Create(value)) : JsonValue.Create(value)!;
        // A path reaches into the value as the CLI reads it: the stack file's object, not only what was set before.
        s.Config[full] = path.Count == 0 ? leaf : SetPath(ConfigOf(name, s).GetValueOrDefault(full)?.DeepClone(), path, leaf);
        // Emulating the providers, the value also lands in the stack's file, where the real CLI keeps it.
        if (EmulationDirectory is not null) StackEmulation.WriteConfig(_cwd, name, full, s.Config[full]);
    }

    [GeneratedRegex("password|passphrase|secret|token|apikey|api_key|private", RegexOptions.IgnoreCase)]
    private static partial Regex LooksSecret();

    private static JsonNode SetPath(JsonNode? node, List<object> path, JsonNode leaf)
    {
        if (path.Count == 0) return leaf;
        if (path[0] is int index)
        {
            var array = node as JsonArray ?? [];
            while (array.Count <= index) array.Add(null);
            array[index] = SetPath(array[index]?.DeepClone(), path[1..], leaf);
            return array;
        }
        var obj = node as JsonObject ?? [];
        obj[(string)path[0]] = SetPath(obj[(string)path[0]]?.DeepClone(), path[1..], leaf);
        return obj;
    }

    /// <summary>
    /// `config rm-all`: each key removed in order; with --path the last segment inside its value (a map left empty stays,
    /// as `{}`). A key the stack does not hold is no error (pulumi/pulumi sdk/go/common/resource/config/map.go, Map.Remove).
    /// </summary>
    private void RemoveAllConfig()
    {
        var (name, s) = Stack();
        if (line.Positionals.Count == 0) throw new CliError("requires at least 1 arg(s), only received 0");
        foreach (var key in line.Positionals)
        {
            var (full, path) = ParseKey(key);
            if (!ConfigOf(name, s).TryGetValue(full, out var node)) continue;
            if (path.Count == 0)
            {
                s.Config.Remove(full);
                if (EmulationDirectory is not null) StackEmulation.RemoveConfig(_cwd, name, full);
                continue;
            }
            var changed = node?.DeepClone();
            RemovePath(changed, path);
            s.Config[full] = changed;
            if (EmulationDirectory is not null) StackEmulation.WriteConfig(_cwd, name, full, changed);
        }
    }

    private static void RemovePath(JsonNode? node, List<object> path)
    {
        foreach (var step in path[..^1])
            node = step is int i ? (node as JsonArray)?.ElementAtOrDefault(i) : (node as JsonObject)?[(string)step];
        switch (node, path[^1])
        {
            case (JsonObject o, string k): o.Remove(k); break;
            case (JsonArray a, int i) when i < a.Count: a.RemoveAt(i); break;
        }
    }

    private void GetConfig()
    {
        var (name, s) = Stack();
        var key = line.Positionals.ElementAtOrDefault(0) ?? throw new CliError("accepts 1 arg(s), received 0");
        var (full, path) = ParseKey(key);
        var node = ConfigOf(name, s).GetValueOrDefault(full);
        foreach (var step in path)
            node = step is int i ? (node as JsonArray)?.ElementAtOrDefault(i) : (node as JsonObject)?[(string)step];
        if (node is null) throw new CliError($"configuration key '{Display(line.Has("path") ? key : full, Project())}' not found for stack '{name}'");
        var secret = Secrets.Contains(node);
        if (secret) Passphrase(s);
        var entry = Entry(node, reveal: true);
        if (line.Has("json")) PrintJson(entry);
        else stdout.WriteLine((string?)entry["value"]);
    }

    /// <summary>A config entry as `config --json` and `config get --json` print it.</summary>
    private static JsonObject Entry(JsonNode? node, bool reveal)
    {
        var secret = Secrets.Contains(node);
        var plain = Secrets.Render(node, null);
        var entry = new JsonObject();
        if (reveal || !secret)
        {
            entry["value"] = plain is JsonValue v && v.TryGetValue<string>(out var text) ? text : plain?.ToJsonString();
            if (plain is JsonObject or JsonArray) entry["objectValue"] = plain.DeepClone();
        }
        entry["secret"] = secret;
        return entry;
    }

    /// <summary>
    /// The stack's config as `config` and `config get` answer it. Emulating the providers, it is the real CLI's: the
    /// stack file's config with what `config set` stored over it, key by key (what the emulated `up` reads too); the
    /// scripted stand-in answers only what `config set` stored.
    /// </summary>
    private SortedDictionary<string, JsonNode?> ConfigOf(string name, StackRecord s)
    {
        if (EmulationDirectory is null) return s.Config;
        var merged = StackEmulation.FileConfig(_cwd, name);
        foreach (var (key, value) in s.Config) merged[key] = value;
        return merged;
    }

    private void ListConfig()
    {
        var (name, s) = Stack();
        var reveal = line.Has("show-secrets");
        var config = ConfigOf(name, s);
        if (reveal && config.Values.Any(Secrets.Contains)) Passphrase(s);
        var all = new JsonObject(config.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)Entry(c.Value, reveal))));
        if (line.Has("json")) { PrintJson(all); return; }
        stdout.WriteLine("KEY  VALUE");
        foreach (var (k, e) in all) stdout.WriteLine($"{Display(k, Project())}  {((bool)e!["secret"]! && !reveal ? "[secret]" : (string?)e["value"])}");
    }

    /// <summary>Config as the prelude event shows it: fully qualified key → text, secrets "[secret]".</summary>
    internal static JsonObject PreludeConfig(StackRecord s) => new(s.Config.Select(c =>
        KeyValuePair.Create(c.Key, (JsonNode?)(Secrets.Contains(c.Value) ? "[secret]" : (string?)Entry(c.Value, true)["value"]))));

    internal static JsonObject HistoryConfig(StackRecord s) => new(s.Config.Select(c =>
    {
        var e = Entry(c.Value, true);
        return KeyValuePair.Create(c.Key, (JsonNode?)new JsonObject { ["value"] = (string?)e["value"], ["secret"] = (bool)e["secret"]! });
    }));

    internal void RequireUpdateConfirmation() =>
        RequireYes("--yes or --skip-preview or --preview-only must be passed in to proceed when running in non-interactive mode");
}
