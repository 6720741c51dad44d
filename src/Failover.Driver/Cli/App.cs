using System.CommandLine;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Engine;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Failover.Driver.RunState;
using Serilog;
using Spectre.Console;

namespace Failover.Driver.Cli;

/// <summary>The `failover` command line: one command per verb, the same flags everywhere.</summary>
public sealed class App(TextWriter stdout, TextWriter stderr, string workingDirectory, TextWriter? logConsole = null)
{
    /// <summary>The clock every step reads; tests give a fake one.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The adapters a run uses for a target; tests give fakes or stand-ins.</summary>
    public Func<RunEnvironment, CancellationToken, Task<RunPorts>> Ports { get; init; } = RunPortsFactory.CreateAsync;

    /// <summary>
    /// The time limits of every run, and of the plan's findings about them: the planner and the adapters read the same values.
    /// Production's <c>failover:timeLimits</c> once a command has loaded the stack files; one set here (tests, the booted
    /// drill's world) wins over them.
    /// </summary>
    public Failover.Core.Planning.RuntimeOptions Options
    {
        get => _options ?? _stackFileLimits ?? Failover.Core.Planning.RuntimeOptions.Default;
        set => _options = value;
    }

    private Failover.Core.Planning.RuntimeOptions? _options;
    private Failover.Core.Planning.RuntimeOptions? _stackFileLimits;

    /// <summary>The operator's answers; null when input is not interactive (then --yes is required).</summary>
    public TextReader? Input { get; init; } = Console.IsInputRedirected ? null : Console.In;

    public string WorkingDirectory => workingDirectory;

    /// <summary>The terminal behind stdout, or null when stdout is not one (a pipe, a file, a test's writer).</summary>
    public Func<IAnsiConsole?> Terminal { get; init; } = () =>
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? AnsiConsole.Console : null;

    /// <summary>The terminal behind stderr, for coloured ERROR and WARNING lines; null when stderr is not one.</summary>
    public Func<IAnsiConsole?> ErrorTerminal { get; init; } = () =>
        ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
            : null;

    /// <summary>How the run's lines and progress are shown: set when a command starts (plain until then).</summary>
    internal RunDisplay Display { get; private set; } = new PlainDisplay(stdout);

    private IAnsiConsole? _errorTerminal;
    private Lazy<string?> _operator = new(() => null);

    /// <summary>Who runs this command (--operator, FAILOVER_OPERATOR, git user.email), read when first needed; null when none.</summary>
    internal string? Operator => _operator.Value;
    private Func<string, string?>? _environment;

    /// <summary>Reads settings from the environment (FAILOVER_PULUMI, FAILOVER_DNS_API_KEY); tests give their own.</summary>
    public Func<string, string?> Variable { get; internal set; } = Environment.GetEnvironmentVariable;

    /// <summary>Extra variables for the pulumi processes (tests point them at a stand-in); the process environment is inherited.</summary>
    public IReadOnlyDictionary<string, string> PulumiEnvironment { get; set; } = new Dictionary<string, string>();

    internal static readonly Option<string?> Stacks = new("--stacks")
    {
        HelpName = "DIR",
        Description = "Folder with the Pulumi.<stack>.yaml files (default: stackConfigDir of the Pulumi.yaml above the current folder)",
        Recursive = true,
    };

    internal static readonly Option<string?> LogJson = new("--log-json")
    {
        HelpName = "FILE",
        Description = "Also write structured log events (JSON lines, secrets redacted) to this file",
        Recursive = true,
    };

    internal static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log every event (info and debug) to stderr, not only warnings and errors",
        Recursive = true,
    };

    public SecretRegistry Secrets { get; } = new();

    public int Run(string[] args)
    {
        var root = new RootCommand(
            "failover: recover a small SaaS in another datacenter from its external backup, and prove it works.\n\n" +
            "The topology is read from the Pulumi stack files (failover:* keys, see docs/configuration.md).\n\n" +
            "Examples:\n" +
            "  failover status                       the topology at a glance and its policy findings\n" +
            "  failover plan --to standby-hel1       the runbook for losing production and recovering on standby-hel1\n" +
            "  failover plan --to standby-hel1 --json > plan.json\n" +
            "  failover policies vault-colocated      why a rule exists and how to fix a finding\n" +
            "  failover run --to standby-hel1          the failover itself (journaled; `failover resume` after a crash)\n" +
            "  failover drill --stacks examples/local  a whole failover on this machine with the local provider\n" +
            "  failover rehearse --site local-standby  prove the backups restore, on an isolated copy\n" +
            "  failover migrate --to standby-hel1      a planned move of production, no data lost (also the way back)\n\n" +
            "Exit codes: 0 ok, 1 error-level findings, 2 usage error, 3 invalid stack files, 4 operation failed,\n" +
            "5 another run holds the lock, 6 a migration waits for the old TTL, 7 a migration waits for --confirm, 130 interrupted.");
        root.Options.Add(Stacks);
        root.Options.Add(LogJson);
        root.Options.Add(Verbose);
        root.Subcommands.Add(PlanCommand.Build(this));
        root.Subcommands.Add(StatusCommand.Build(this));
        root.Subcommands.Add(PoliciesCommand.Build(this));
        foreach (var c in RunCommands.Build(this)) root.Subcommands.Add(c);
        root.Subcommands.Add(BackupCommand.Build(this));
        root.Subcommands.Add(DrillCommand.Build(this));
        root.Subcommands.Add(RehearseCommand.Build(this));
        root.Subcommands.Add(MigrateCommand.Build(this));
        root.Subcommands.Add(RestoreCommand.Build(this));
        RunCommands.AddGlobal(root);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine($"Run '{string.Join(' ', parse.CommandResult.Command.Name == root.Name ? ["failover"] : new[] { "failover", parse.CommandResult.Command.Name })} --help' for usage and examples.");
            return ExitCodes.Usage;
        }
        // After Ctrl-C a run journals where it stopped, then a migration thaws its source or a rehearsal tears its copy
        // down: the process is ended only after RuntimeOptions.AfterInterrupt (45 min by default). (null would not mean
        // "never": it turns the Ctrl-C handling off, and SIGINT then kills the process with nothing thawed.) A process
        // ended anyway leaves a journal that `resume` or `abort` completes.
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = AfterInterrupt(parse.GetValue(Stacks)) });
    }

    /// <summary>
    /// How long the process may go on after Ctrl-C: RuntimeOptions.AfterInterrupt of the options set here, else of the
    /// stack files, so that a migrateHook or pulumiDestroy raised in failover:timeLimits also lengthens it (a thaw
    /// cut short leaves production frozen). System.CommandLine fixes it before the command runs, so the stack files are
    /// read once more for it here; a mistake in them is left to the command, which reports it before anything runs.
    /// </summary>
    /// <param name="stacks">The --stacks given, or null.</param>
    internal TimeSpan AfterInterrupt(string? stacks)
    {
        if (_options is { } set) return set.AfterInterrupt;
        try { return TopologyLoader.Load(StacksDirectory(stacks), displayRoot: workingDirectory).TimeLimits.AfterInterrupt; }
        catch (Exception) // any: the command reads them again and reports what is wrong with them
        {
            return Failover.Core.Planning.RuntimeOptions.Default.AfterInterrupt;
        }
    }

    /// <summary>--stacks when given, else stackConfigDir of the Pulumi.yaml above the working directory.</summary>
    private string StacksDirectory(string? stacks) => stacks is { } given
        ? Path.GetFullPath(given, workingDirectory)
        : TopologyLoader.DefaultStacksDirectory(workingDirectory);

    /// <summary>Runs a command body with logging, the stack files loaded, and errors turned into exit codes.</summary>
    internal int Execute(ParseResult parse, Func<Topology, ILogger, int> body) =>
        ExecuteAsync(parse, (t, l) => Task.FromResult(body(t, l))).GetAwaiter().GetResult();

    internal async Task<int> ExecuteAsync(ParseResult parse, Func<Topology, ILogger, Task<int>> body)
    {
        using var log = LogSetup.Create(Secrets, Resolve(parse.GetValue(LogJson)), parse.GetValue(Verbose), logConsole);
        JsonOutput = WantsJson(parse);
        Display = JsonOutput ? new PlainDisplay(stderr) : RunDisplay.For(stdout, Variable, Terminal());
        _errorTerminal = string.IsNullOrEmpty(Variable("NO_COLOR")) && Variable("TERM") is not (null or "" or "dumb") ? ErrorTerminal() : null;
        try
        {
            var topology = TopologyLoader.Load(StacksDirectory(parse.GetValue(Stacks)), displayRoot: workingDirectory);
            _stackFileLimits = topology.TimeLimits;
            // Every ciphertext of every stack file, not only the keys the tool reads: diffs and errors quote file lines.
            foreach (var s in topology.Stacks)
                foreach (var ciphertext in s.SecretCiphertexts) Secrets.Add(ciphertext);
            // What a kept drill left for the commands after it; the process environment wins.
            var saved = CredentialsFile.Read(RunCommands.Store(this, parse, topology).Root, Secrets, Error);
            if (saved.Count > 0)
            {
                var environment = _environment ??= Variable;
                Variable = name => environment(name) ?? saved.GetValueOrDefault(name);
            }
            var project = RunCommands.ProjectDirectory(topology);
            _operator = new Lazy<string?>(() => OperatorIdentity.Resolve(parse.GetValue<string?>("--operator"), Variable, project));
            log.Debug("Loaded {StackCount} stacks from {StacksDirectory}", topology.Stacks.Count, topology.StacksDirectory);
            return await body(topology, log);
        }
        catch (TopologyException e)
        {
            stderr.WriteLine("error: the stack files cannot be used (nothing was changed):");
            foreach (var p in e.Problems) stderr.WriteLine("  " + Secrets.Redact(p.ToString()).Replace("\n", "\n  "));
            log.Debug("Invalid topology: {ProblemCount} problem(s)", e.Problems.Count);
            return ExitCodes.InvalidTopology;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            return ExitCodes.Usage;
        }
        catch (LockHeldException e)
        {
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            return ExitCodes.Locked;
        }
        catch (Cloud.StaleCheckoutException e)
        {
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            log.Warning("Stale checkout: {Differences} differences with the deployed stacks", e.Differences.Count);
            return ExitCodes.InvalidTopology;
        }
        catch (JournalConflictException e)
        {
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            log.Error("Journal conflict at record {Sequence}: another process continued the run", e.Sequence);
            return ExitCodes.Locked;
        }
        catch (JournalTamperedException e)
        {
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            log.Error("Journal hash chain broken; nothing done");
            return ExitCodes.Tampered;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is InvalidOperationException or RunStateUnavailableException or IOException or PulumiCommandException or PulumiTimeoutException or PulumiNotFoundException or UnauthorizedAccessException or NotSupportedException or TimeoutException)
        {
            // Failures before or outside the engine (a missing tool, an unreadable vault): said plainly, no stack trace.
            stderr.WriteLine($"error: {Secrets.Redact(e.Message)}");
            log.Debug(e, "Command failed before the run could start");
            return ExitCodes.Failed;
        }
    }

    /// <summary>
    /// Set by `--json`: stdout carries only the JSON document (<see cref="Document"/>), and the progress lines a
    /// command prints go to stderr, so `failover run --json > result.json` is clean JSON.
    /// </summary>
    internal bool JsonOutput { get; set; }

    /// <summary>The `--json` option of a verb that reports; read by <see cref="ExecuteAsync"/>.</summary>
    internal static Option<bool> JsonOption(string description) => new("--json") { Description = description };

    internal void Print(string text) => Display.Line(Secrets.Redact(text));

    /// <summary>Prints a verb's JSON document on stdout.</summary>
    internal void Document(string json) => stdout.Write(Secrets.Redact(json) + "\n");

    internal void Error(string line)
    {
        var text = Secrets.Redact(line);
        if (_errorTerminal is null) stderr.WriteLine(text);
        else _errorTerminal.MarkupLine(TerminalDisplay.Colour(text));
    }

    /// <summary>Asks the operator to type an expected word; false when input is not interactive or the answer differs.</summary>
    internal bool Confirm(string prompt, string expected)
    {
        if (Input is null) return false;
        stderr.Write(prompt);
        return string.Equals(Input.ReadLine()?.Trim(), expected, StringComparison.Ordinal);
    }

    internal static bool WantsJson(ParseResult parse) =>
        parse.CommandResult.Command.Options.Any(o => o.Name == "--json") && parse.GetValue<bool>("--json");

    private string? Resolve(string? path) => path is null ? null : Path.GetFullPath(path, workingDirectory);
}

/// <summary>The command line names something that does not fit (an unknown stack, a wrong role).</summary>
public sealed class UsageException(string message) : Exception(message);
