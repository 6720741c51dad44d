using System.Text;
using System.Text.Json;
using Failover.Driver.Logging;

namespace Failover.Driver.Pulumi;

/// <summary>
/// Follows the file the CLI writes with `--event-log` (one JSON engine event a line) while the process
/// runs, and turns the events the driver cares about into <see cref="PulumiProgress"/>.
/// </summary>
internal sealed class EventLog(string file, IProgress<PulumiProgress>? progress, SecretRegistry secrets)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private readonly StringBuilder _partial = new();
    private long _position;

    public UpdateSummary? Summary { get; private set; }

    /// <summary>Error diagnostics seen so far: the cause of a failed update, which the CLI does not repeat on stderr.</summary>
    public List<string> Errors { get; } = [];

    /// <summary>Reads new lines until <paramref name="stop"/> fires, then once more to catch the last ones.</summary>
    public async Task FollowAsync(CancellationToken stop)
    {
        // The poll interval is pacing, not a deadline: it runs on real time even when tests inject a clock.
        while (!stop.IsCancellationRequested)
        {
            ReadNew();
            try { await Task.Delay(PollInterval, stop); } catch (OperationCanceledException) { }
        }
        ReadNew();
    }

    private void ReadNew()
    {
        if (!File.Exists(file)) return;
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length < _position) { _position = 0; _partial.Clear(); } // the CLI truncates the log when a new phase starts
        stream.Seek(_position, SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        _partial.Append(reader.ReadToEnd());
        _position = stream.Position;
        var text = _partial.ToString();
        var end = text.LastIndexOf('\n');
        if (end < 0) return;
        _partial.Clear().Append(text[(end + 1)..]);
        foreach (var line in text[..end].Split('\n'))
            if (Parse(line) is { } e) Report(e);
    }

    private void Report(PulumiProgress e)
    {
        if (e is UpdateSummary s) Summary = s;
        if (e is EngineDiagnostic { Severity: "error" } d) Errors.Add(d.Message.Trim());
        progress?.Report(e);
    }

    /// <summary>One event line; blank, malformed and uninteresting lines give null, as the SDK skips them.</summary>
    private PulumiProgress? Parse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("resourcePreEvent", out var pre)) return Step(pre, (u, t, n, o) => new ResourceStarted(u, t, n, o));
            if (root.TryGetProperty("resOutputsEvent", out var done)) return Step(done, (u, t, n, o) => new ResourceFinished(u, t, n, o));
            if (root.TryGetProperty("resOpFailedEvent", out var failed)) return Step(failed, (u, t, n, o) => new ResourceFailed(u, t, n, o));
            if (root.TryGetProperty("diagnosticEvent", out var diag)) return Diagnostic(diag);
            if (root.TryGetProperty("summaryEvent", out var summary)) return Summarize(summary);
            return null;
        }
        catch (JsonException)
        {
            return null; // a line cut by a crash; the SDK ignores it too
        }
    }

    private static PulumiProgress? Step(JsonElement e, Func<string, string, string, string, PulumiProgress> make)
    {
        if (!e.TryGetProperty("metadata", out var m)) return null;
        var urn = Text(m, "urn");
        var name = urn.LastIndexOf("::", StringComparison.Ordinal) is var i and >= 0 ? urn[(i + 2)..] : urn;
        return make(urn, Text(m, "type"), name, Text(m, "op"));
    }

    private EngineDiagnostic? Diagnostic(JsonElement e)
    {
        var severity = Text(e, "severity");
        if (severity is not ("error" or "warning")) return null; // info lines are the program's own stdout
        var urn = e.TryGetProperty("urn", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        return new EngineDiagnostic(severity, secrets.Redact(Text(e, "message")), urn);
    }

    private static UpdateSummary Summarize(JsonElement e)
    {
        var changes = new Dictionary<string, int>();
        if (e.TryGetProperty("resourceChanges", out var rc) && rc.ValueKind == JsonValueKind.Object)
            foreach (var p in rc.EnumerateObject())
                if (p.Value.TryGetInt32(out var n)) changes[p.Name] = n;
        var duration = e.TryGetProperty("durationSeconds", out var d) && d.TryGetInt32(out var s) ? s : 0;
        var result = e.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        return new UpdateSummary(changes, duration, result);
    }

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
}
