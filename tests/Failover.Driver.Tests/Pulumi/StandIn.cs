using System.Text.Json;
using System.Text.Json.Nodes;
using Failover.Driver.Logging;
using Failover.Driver.Pulumi;
using Serilog.Core;

namespace Failover.Driver.Tests.Pulumi;

/// <summary>
/// A throwaway Pulumi project run by the stand-in `pulumi` (tests/Failover.PulumiStandIn, copied beside
/// these tests by the project reference): its state, the calls it recorded, the script it follows, and
/// the driver's captured logs.
/// </summary>
public sealed class StandIn : IDisposable
{
    public const string Passphrase = "correct horse battery staple";

    /// <summary>The folder holding the `pulumi` script and pulumi.dll.</summary>
    public static string BinDirectory => AppContext.BaseDirectory;

    private readonly string _root = Directory.CreateTempSubdirectory("failover-pulumi-test-").FullName;

    public StandIn()
    {
        Directory.CreateDirectory(ProjectDirectory);
        File.WriteAllText(Path.Combine(ProjectDirectory, "Pulumi.yaml"), "name: failover\nruntime: dotnet\nmain: infra/\n");
        LogFile = Path.Combine(_root, "log.json");
        Log = LogSetup.Create(Secrets, LogFile, verbose: true, Console);
    }

    public string ProjectDirectory => Path.Combine(_root, "project");
    public string CallsFile => Path.Combine(_root, "calls.jsonl");
    public SecretRegistry Secrets { get; } = new();
    public StringWriter Console { get; } = new();
    public string LogFile { get; }
    public Logger Log { get; }
    public TestClock Clock { get; } = new();

    /// <summary>Everything an operator or a log file would have seen.</summary>
    public string CapturedLogs()
    {
        Log.Dispose();
        return Console + (File.Exists(LogFile) ? File.ReadAllText(LogFile) : "");
    }

    /// <summary>The stand-in's variables, the passphrase, and the stand-in first on PATH (found as a bare `pulumi`).</summary>
    public Dictionary<string, string> Environment(bool passphrase = true)
    {
        var env = new Dictionary<string, string>
        {
            ["PULUMI_STANDIN_STATE"] = Path.Combine(_root, "state"),
            ["PULUMI_STANDIN_CALLS"] = CallsFile,
            ["PULUMI_STANDIN_SCRIPT"] = Path.Combine(_root, "script.json"),
            ["PATH"] = BinDirectory + Path.PathSeparator + System.Environment.GetEnvironmentVariable("PATH"),
        };
        if (passphrase) env["PULUMI_CONFIG_PASSPHRASE"] = Passphrase;
        return env;
    }

    public PulumiOptions Options(bool passphrase = true) => new()
    {
        ProjectDirectory = ProjectDirectory,
        Environment = Environment(passphrase),
        RetryDelay = TimeSpan.FromSeconds(1),
        ConflictRetries = 3,
    };

    public PulumiCli Cli(PulumiOptions? options = null) => new(options ?? Options(), Secrets, Log, Clock);

    /// <summary>Tells the stand-in what to do (see tests/Failover.PulumiStandIn/Script.cs).</summary>
    public void Script(object script) =>
        File.WriteAllText(Path.Combine(_root, "script.json"), JsonSerializer.Serialize(script, new JsonSerializerOptions(JsonSerializerDefaults.Web)));

    public List<JsonObject> Calls() => File.Exists(CallsFile)
        ? File.ReadAllLines(CallsFile).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList()
        : [];

    public List<JsonObject> Calls(string command) => Calls().Where(c => (string?)c["command"] == command).ToList();

    public static List<string> Args(JsonObject call) => call["args"]!.AsArray().Select(a => (string)a!).ToList();

    /// <summary>The arguments every call ends with (before an event log or a `--` value).</summary>
    public string[] Tail(string? stack) =>
        stack is null ? ["--cwd", ProjectDirectory, "--non-interactive"] : ["--stack", stack, "--cwd", ProjectDirectory, "--non-interactive"];

    public void Dispose()
    {
        Log.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A progress sink that records synchronously (Progress&lt;T&gt; would post to a context later).</summary>
public sealed class Recorded<T> : IProgress<T>
{
    private readonly List<T> _items = [];
    public void Report(T value) { lock (_items) _items.Add(value); }
    public List<T> Items { get { lock (_items) return [.. _items]; } }
}
