using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Failover.Driver.Emulation;

namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>
/// `up` and `destroy` of a fake program: steps over the script's resources, written to the event log
/// (pulumi-cli-contract.md §4.3) and, with --json, to stdout; a human summary otherwise.
/// </summary>
internal sealed class Update(Commands cli, string? resourceFailure) : IDisposable
{
    // Go's encoder leaves quotes and non-ASCII text alone; so does this one.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly List<JsonObject> _events = [];
    private TextWriter? _log;
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;

    public int Up()
    {
        var (project, stack, s) = Begin();
        var changes = new Dictionary<string, int>();
        var root = new Resource("pulumi:pulumi:Stack", $"{project}-{stack}");
        var rootOp = s.HasStackResource ? "same" : "create";
        Step("resourcePreEvent", project, stack, root, rootOp, null);
        List<Resource> wanted;
        JsonObject outputs;
        var ops = new Dictionary<string, string>();
        if (cli.EmulationDirectory is not null)
        {
            EmulatedUpdate emulated;
            // The program's own errors (a stack file Core refuses, a missing stack reference) fail the update at the root.
            try { emulated = cli.EmulateUp(stack, s); }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or Failover.Core.Topology.TopologyException or IOException)
            {
                return Fail(project, stack, s, root, rootOp, e.Message);
            }
            foreach (var r in emulated.Resources) ops[new Resource(r.Type, r.Name).Key] = r.Op;
            if (emulated.Failed is { } failed)
            {
                foreach (var r in emulated.Resources.Where(r => r.Name != failed.Name))
                    Step("resOutputsEvent", project, stack, new Resource(r.Type, r.Name), r.Op, null);
                return Fail(project, stack, s, new Resource(failed.Type, failed.Name), failed.Op, emulated.Error ?? "failed");
            }
            wanted = emulated.Resources.Select(r => new Resource(r.Type, r.Name)).Distinct().ToList();
            outputs = emulated.Outputs;
        }
        else
        {
            wanted = cli.Script.ResourcesFor(stack);
            outputs = cli.Script.OutputsFor(stack);
        }
        foreach (var r in wanted)
        {
            var op = ops.GetValueOrDefault(r.Key) is { } given and not "same" ? given : s.Resources.Contains(r.Key) ? "same" : "create";
            Step("resourcePreEvent", project, stack, r, op, null);
            if (resourceFailure is not null) return Fail(project, stack, s, r, op, resourceFailure);
            Step("resOutputsEvent", project, stack, r, op, null);
            Count(changes, op);
        }
        foreach (var gone in s.Resources.Where(k => wanted.All(r => r.Key != k)).ToList())
        {
            var r = FromKey(gone);
            Step("resourcePreEvent", project, stack, r, "delete", null);
            Step("resOutputsEvent", project, stack, r, "delete", null);
            Count(changes, "delete");
        }
        Step("resOutputsEvent", project, stack, root, rootOp, outputs);
        Count(changes, rootOp);

        s.HasStackResource = true;
        s.Resources = wanted.Select(r => r.Key).ToList();
        s.Outputs = new(outputs.ToDictionary(o => o.Key, o => o.Value?.DeepClone()), StringComparer.Ordinal);
        Finish(s, "update", changes, "succeeded");
        if (!cli.Line.Has("json"))
        {
            cli.Stdout.WriteLine($"Updating ({stack})\n");
            cli.Stdout.WriteLine("Outputs:");
            foreach (var (k, v) in s.Outputs) cli.Stdout.WriteLine($"    {k}: {(Secrets.Contains(v) ? "[secret]" : v?.ToJsonString())}");
            cli.Stdout.WriteLine("\nResources:");
            foreach (var (op, n) in changes) cli.Stdout.WriteLine($"    {n} {op}");
            cli.Stdout.WriteLine($"\nDuration: {Duration()}s");
        }
        return 0;
    }

    public int Destroy()
    {
        var (project, stack, s) = Begin();
        var changes = new Dictionary<string, int>();
        if (cli.EmulationDirectory is not null && cli.EmulateDestroy(stack) is { Failed: { } failed } refused)
            return Fail(project, stack, s, new Resource(failed.Type, failed.Name), failed.Op, refused.Error ?? "failed");
        var doomed = Enumerable.Reverse(s.Resources).Select(FromKey).ToList();
        if (s.HasStackResource) doomed.Add(new Resource("pulumi:pulumi:Stack", $"{project}-{stack}"));
        foreach (var r in doomed)
        {
            Step("resourcePreEvent", project, stack, r, "delete", null);
            Step("resOutputsEvent", project, stack, r, "delete", null);
            Count(changes, "delete");
        }
        s.Resources.Clear();
        s.HasStackResource = false;
        s.Outputs.Clear();
        Finish(s, "destroy", changes, "succeeded");
        if (!cli.Line.Has("json"))
        {
            cli.Stdout.WriteLine($"Destroying ({stack})\n\nResources:\n    - {doomed.Count} deleted\n\nDuration: {Duration()}s\n");
            cli.Stdout.WriteLine("The resources in the stack have been deleted, but the history and configuration associated with the stack are still maintained.");
            cli.Stdout.WriteLine($"If you want to remove the stack completely, run `pulumi stack rm {stack}`.");
        }
        return 0;
    }

    /// <summary>A resource failure: the engine bails without an `error:` line; the cause is in diagnostics.</summary>
    private int Fail(string project, string stack, StackRecord s, Resource r, string op, string message)
    {
        var urn = Urn(project, stack, r);
        Emit("diagnosticEvent", new JsonObject { ["urn"] = urn, ["prefix"] = "error: ", ["message"] = message + "\n", ["color"] = "never", ["severity"] = "error" });
        Emit("resOpFailedEvent", new JsonObject { ["metadata"] = Metadata(project, stack, r, op, null), ["status"] = 0, ["steps"] = 1 });
        Finish(s, "update", [], "failed");
        if (!cli.Line.Has("json"))
            cli.Stdout.WriteLine($"Updating ({stack})\n\nDiagnostics:\n  {r.Type} ({r.Name}):\n    error: {message}\n\nDuration: {Duration()}s");
        return ExitCodes.Generic;
    }

    private void Finish(StackRecord s, string kind, Dictionary<string, int> changes, string result)
    {
        var end = DateTimeOffset.UtcNow;
        Emit("summaryEvent", new JsonObject
        {
            ["maybeCorrupt"] = false, ["durationSeconds"] = Duration(),
            ["resourceChanges"] = new JsonObject(changes.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))),
            ["PolicyPacks"] = new JsonObject(), ["isPreview"] = false, ["result"] = result,
        });
        Emit("cancelEvent", new JsonObject());
        s.LastUpdate = end;
        s.History.Add(new JsonObject
        {
            ["version"] = s.History.Count + 1, ["kind"] = kind, ["startTime"] = Stamp(_start), ["message"] = "",
            ["environment"] = new JsonObject { ["exec.kind"] = cli.Line.Value("exec-kind") ?? "cli" },
            ["config"] = Commands.HistoryConfig(s), ["result"] = result, ["endTime"] = Stamp(end),
            ["resourceChanges"] = new JsonObject(changes.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))),
        });
        cli.Save();
    }

    /// <summary>What both operations do first: checks, then the event log opened with its prelude.</summary>
    private (string Project, string Stack, StackRecord Record) Begin()
    {
        var project = cli.Project();
        var (stack, s) = cli.Stack();
        cli.RequireUpdateConfirmation();
        cli.Passphrase(s);
        if (cli.Line.Value("event-log") is { } file)
            // create + truncate, then one compact object per line, as the CLI's event logger does.
            _log = new StreamWriter(new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        Emit("preludeEvent", new JsonObject { ["config"] = Commands.PreludeConfig(s) });
        return (project, stack, s);
    }

    public void Dispose() => _log?.Dispose();

    private void Emit(string key, JsonObject payload)
    {
        var e = new JsonObject { ["sequence"] = _events.Count, ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), [key] = payload };
        _events.Add(e);
        var text = e.ToJsonString(Compact);
        _log?.WriteLine(text);
        if (cli.Line.Has("json")) cli.Stdout.WriteLine(text);
    }

    private void Step(string key, string project, string stack, Resource r, string op, JsonObject? outputs) =>
        Emit(key, new JsonObject { ["metadata"] = Metadata(project, stack, r, op, outputs) });

    private static JsonObject Metadata(string project, string stack, Resource r, string op, JsonObject? outputs)
    {
        var urn = Urn(project, stack, r);
        var isRoot = r.Type == "pulumi:pulumi:Stack";
        var provider = isRoot ? "" : $"urn:pulumi:{stack}::{project}::pulumi:providers:{r.Type.Split(':')[0]}::default::00000000-0000-0000-0000-000000000000";
        var blinded = outputs is null ? new JsonObject() : new JsonObject(outputs.Select(o =>
            KeyValuePair.Create(o.Key, Secrets.Contains(o.Value) ? Secrets.Blinded() : o.Value?.DeepClone())));
        var state = new JsonObject
        {
            ["type"] = r.Type, ["urn"] = urn, ["custom"] = !isRoot, ["id"] = isRoot ? "" : $"{r.Name}-id",
            ["parent"] = isRoot ? "" : $"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",
            ["inputs"] = new JsonObject(), ["outputs"] = blinded, ["provider"] = provider,
        };
        return new JsonObject
        {
            ["op"] = op, ["urn"] = urn, ["type"] = r.Type,
            ["old"] = op == "create" ? null : state.DeepClone(), ["new"] = op == "delete" ? null : state,
            ["detailedDiff"] = null, ["provider"] = provider,
        };
    }

    private static string Urn(string project, string stack, Resource r) => $"urn:pulumi:{stack}::{project}::{r.Type}::{r.Name}";

    private static Resource FromKey(string key) => key.LastIndexOf("::", StringComparison.Ordinal) is var i
        ? new Resource(key[..i], key[(i + 2)..])
        : throw new InvalidOperationException();

    private static void Count(Dictionary<string, int> changes, string op) => changes[op] = changes.GetValueOrDefault(op) + 1;

    private int Duration() => (int)Math.Ceiling((DateTimeOffset.UtcNow - _start).TotalSeconds);

    private static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
}
