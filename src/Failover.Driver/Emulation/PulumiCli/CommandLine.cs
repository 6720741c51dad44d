namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>A failure the real CLI reports as `error: <message>` on stderr with a non-zero exit code.</summary>
public sealed class CliError(string message, int exitCode = ExitCodes.Generic) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Exit codes of CLIs from v3.226 on (pulumi-cli-contract.md §0.4).</summary>
public static class ExitCodes
{
    public const int Generic = 1;
    public const int Configuration = 2;
    public const int StackNotFound = 6;
}

/// <summary>One flag a command accepts; <see cref="TakesValue"/> flags read `--f v` or `--f=v`.</summary>
public sealed record Flag(string Name, char? Short = null, bool TakesValue = false, bool DebugOnly = false);

/// <summary>Arguments parsed the way cobra does: flags anywhere, `--` ends flags, unknown flags rejected per command.</summary>
public sealed class CommandLine
{
    public required string Command { get; init; }
    public required List<string> Positionals { get; init; }
    public required Dictionary<string, string> Flags { get; init; }
    public List<string> AfterDashDash { get; init; } = [];
    /// <summary>Every value flag as given, in order (`config set-all` repeats --plaintext and --secret).</summary>
    public List<(string Flag, string Value)> Values { get; init; } = [];

    public bool Has(string flag) => Flags.TryGetValue(flag, out var v) && v != "false";
    public string? Value(string flag) => Flags.GetValueOrDefault(flag);

    private static readonly Flag[] Global =
    [
        new("cwd", 'C', true), new("non-interactive"), new("color", null, true), new("verbose", 'v', true),
        new("logtostderr"), new("logflow"), new("tracing", null, true), new("profiling", null, true), new("emoji"),
        new("disable-integrity-checking"),
    ];

    private static readonly Flag Stack = new("stack", 's', true);
    private static readonly Flag Json = new("json", 'j');
    private static readonly Flag Yes = new("yes", 'y');
    private static readonly Flag ConfigFile = new("config-file", null, true);

    private static readonly Flag[] UpdateFlags =
    [
        Stack, Yes, Json, ConfigFile, new("skip-preview", 'f'), new("message", 'm', true), new("exec-kind", null, true),
        new("client", null, true), new("event-log", null, true, DebugOnly: true), new("diff"), new("refresh", 'r'),
        new("parallel", 'p', true), new("target", 't', true), new("exclude", null, true), new("target-dependents"),
        new("exclude-dependents"), new("continue-on-error"), new("debug", 'd'), new("suppress-outputs"),
        new("suppress-progress"), new("show-sames"), new("show-reads"), new("preview-only"), new("policy-pack", null, true),
        new("policy-pack-config", null, true),
    ];

    /// <summary>The commands the stand-in knows and the flags each accepts beside the global ones.</summary>
    public static readonly Dictionary<string, Flag[]> Commands = new()
    {
        ["version"] = [],
        ["whoami"] = [Json, new("verbose", 'v')],
        ["stack select"] = [Stack, new("create", 'c'), new("secrets-provider", null, true)],
        ["stack init"] = [Stack, new("secrets-provider", null, true), new("no-select"), new("copy-config-from", null, true)],
        ["stack ls"] = [Json, new("all", 'a'), new("organization", 'o', true), new("project", 'p', true), new("tag", 't', true)],
        ["stack rm"] = [Stack, Yes, new("force", 'f'), new("preserve-config")],
        ["stack output"] = [Stack, Json, new("show-secrets"), new("shell")],
        ["stack history"] = [Stack, Json, new("show-secrets"), new("page-size", null, true), new("page", null, true)],
        ["config"] = [Stack, Json, ConfigFile, new("show-secrets"), new("open")],
        ["config get"] = [Stack, Json, ConfigFile, new("path"), new("open")],
        ["config set"] = [Stack, ConfigFile, new("path"), new("secret"), new("plaintext"), new("type", null, true), new("raw")],
        ["config set-all"] = [Stack, ConfigFile, new("path"), new("secret", null, true), new("plaintext", null, true)],
        ["config rm-all"] = [Stack, ConfigFile, new("path")],
        ["up"] = [.. UpdateFlags, new("expect-no-changes"), new("replace", null, true), new("plan", null, true)],
        ["destroy"] = [.. UpdateFlags, new("remove"), new("run-program")],
        ["cancel"] = [Stack, Yes],
    };

    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["stack list"] = "stack ls", ["stack remove"] = "stack rm", ["stack new"] = "stack init", ["update"] = "up",
    };

    public static CommandLine Parse(IReadOnlyList<string> args, bool debugCommands)
    {
        var command = FindCommand(args);
        var words = command.Split(' ').Length;
        var known = Global.Concat(Commands[command]).Where(f => debugCommands || !f.DebugOnly).ToList();
        var flags = new Dictionary<string, string>();
        var positionals = new List<string>();
        var values = new List<(string, string)>();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a == "--") return Done(positionals.Skip(words), flags, values, command, args.Skip(i + 1));
            if (!a.StartsWith('-') || a == "-") { positionals.Add(a); continue; }
            var (name, inline) = a.StartsWith("--") ? Split(a[2..]) : (a[1..2], a.Length > 2 ? a[2..].TrimStart('=') : null);
            var flag = a.StartsWith("--") ? known.FirstOrDefault(f => f.Name == name) : known.FirstOrDefault(f => f.Short == name[0]);
            if (flag is null)
                throw new CliError(a.StartsWith("--") ? $"unknown flag: --{name}" : $"unknown shorthand flag: '{name}' in {a}");
            if (flag.TakesValue)
            {
                var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new CliError($"flag needs an argument: --{flag.Name}"));
                flags[flag.Name] = flags.TryGetValue(flag.Name, out var before) && flag.Name is "target" or "exclude" ? before + "," + value : value;
                values.Add((flag.Name, value));
            }
            else flags[flag.Name] = inline ?? "true";
        }
        return Done(positionals.Skip(words), flags, values, command, []);
    }

    private static CommandLine Done(IEnumerable<string> positionals, Dictionary<string, string> flags, List<(string, string)> values,
        string command, IEnumerable<string> rest) =>
        new() { Command = command, Positionals = positionals.ToList(), Flags = flags, Values = values, AfterDashDash = rest.ToList() };

    private static (string, string?) Split(string flag) =>
        flag.IndexOf('=') is var i and >= 0 ? (flag[..i], flag[(i + 1)..]) : (flag, null);

    /// <summary>The command path: the leading positional words, skipping flags and the values of value flags.</summary>
    private static string FindCommand(IReadOnlyList<string> args)
    {
        var valueFlags = Commands.Values.SelectMany(f => f).Concat(Global).Where(f => f.TakesValue).ToList();
        var words = new List<string>();
        for (var i = 0; i < args.Count && words.Count < 2; i++)
        {
            var a = args[i];
            if (a == "--") break;
            if (a.StartsWith('-'))
            {
                var takesValue = a.StartsWith("--")
                    ? !a.Contains('=') && valueFlags.Any(f => f.Name == a[2..])
                    : a.Length == 2 && valueFlags.Any(f => f.Short == a[1]);
                if (takesValue) i++;
                continue;
            }
            words.Add(a);
        }
        if (words.Count == 0) throw new CliError("no command given; run `pulumi --help`");
        var two = words.Count == 2 ? Alias(words[0] + " " + words[1]) : null;
        if (two is not null && Commands.ContainsKey(two)) return two;
        var one = Alias(words[0]);
        if (Commands.ContainsKey(one)) return one;
        if (words[0] is "stack" && words.Count == 2) throw new CliError($"unknown command \"{words[1]}\" for \"pulumi stack\"");
        throw new CliError($"unknown command \"{words[0]}\" for \"pulumi\"");
    }

    private static string Alias(string command) => Aliases.GetValueOrDefault(command, command);
}
