using System.Text.Json;
using System.Text.RegularExpressions;
using Failover.Core.Sites;
using Failover.Driver.Logging;
using Polly;
using Polly.Retry;
using Serilog;

namespace Failover.Driver.Pulumi;

/// <summary>
/// <see cref="IPulumi"/> over the pulumi CLI, invoked as Pulumi's Automation API does: working directory
/// = the project, explicit `--stack` and `--cwd`, `--non-interactive`, JSON output, and an event log for
/// updates. Concurrent-update conflicts are retried with backoff; other failures surface at once.
/// </summary>
public sealed partial class PulumiCli : IPulumi
{
    private readonly PulumiOptions _options;
    private readonly SecretRegistry _secrets;
    private readonly ILogger _log;
    private readonly CliProcess _process;
    private readonly ResiliencePipeline _retry;

    public PulumiCli(PulumiOptions options, SecretRegistry secrets, ILogger log, TimeProvider? time = null)
    {
        _options = options with { ProjectDirectory = Path.GetFullPath(options.ProjectDirectory) };
        _secrets = secrets;
        _log = log;
        time ??= TimeProvider.System;
        _process = new CliProcess(_options, time);
        foreach (var (name, value) in _options.Environment)
            if (CredentialName().IsMatch(name)) secrets.Add(value);
        _retry = RetryPipeline(time);
    }

    [GeneratedRegex("PASSPHRASE|TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIALS", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialName();

    private ResiliencePipeline RetryPipeline(TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (_options.ConflictRetries > 0)
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<PulumiCommandException>(e => e.IsTransient),
                MaxRetryAttempts = _options.ConflictRetries,
                Delay = _options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true, // two drivers waiting on the same lock should not retry in step
                OnRetry = args =>
                {
                    var e = (PulumiCommandException)args.Outcome.Exception!;
                    _log.Warning("pulumi {Command} for {Stack}: another update holds the stack; retry {Attempt} of {Retries} in {Delay}",
                        e.Command, e.Stack, args.AttemptNumber + 1, _options.ConflictRetries, args.RetryDelay);
                    return default;
                },
            });
        return builder.Build();
    }

    public async Task SelectOrCreateStackAsync(string stack, CancellationToken cancellation = default)
    {
        try
        {
            await RunAsync(new Invocation("stack select", stack, ["stack", "select"], _options.CommandTimeout), cancellation);
            return;
        }
        catch (PulumiCommandException e) when (e.Kind == PulumiFailureKind.StackNotFound) { }
        try
        {
            // `stack init` takes the name as its argument: the CLI rejects it given both ways.
            await RunAsync(new Invocation("stack init", stack, ["stack", "init", stack], _options.CommandTimeout) { Scoped = false }, cancellation);
            _log.Information("Created Pulumi stack {Stack}", stack);
        }
        catch (PulumiCommandException e) when (e.Kind == PulumiFailureKind.StackAlreadyExists)
        {
            // Someone created it between our select and init: select it after all, as the SDK does.
            await RunAsync(new Invocation("stack select", stack, ["stack", "select"], _options.CommandTimeout), cancellation);
        }
    }

    public async Task<IReadOnlyList<StackSummary>> ListStacksAsync(CancellationToken cancellation = default)
    {
        var run = await RunAsync(new Invocation("stack ls", "*", ["stack", "ls", "--json"], _options.CommandTimeout) { Scoped = false }, cancellation);
        if (string.IsNullOrWhiteSpace(run.Stdout)) return [];
        var rows = JsonSerializer.Deserialize<List<StackRow>>(run.Stdout, Json) ?? [];
        return rows.Select(r => new StackSummary(r.Name, r.Current, r.LastUpdate, r.UpdateInProgress ?? false, r.ResourceCount, r.Url)).ToList();
    }

    public async Task SetConfigAsync(string stack, string key, ConfigValue value, bool path = false, CancellationToken cancellation = default)
    {
        if (value.Secret) _secrets.Add(value.Value);
        List<string> args = ["config", "set", .. PathFlag(path), key, value.Secret ? "--secret" : "--plaintext"];
        await RunAsync(new Invocation("config set", stack, args, _options.CommandTimeout) { Value = value }, cancellation);
        _log.Debug("Set {Key} on {Stack}", key, stack);
    }

    public async Task SetConfigAsync(string stack, IReadOnlyList<ConfigSetting> settings, CancellationToken cancellation = default)
    {
        // set-all takes one --path for all its pairs: a run of plain values with the same flag goes into one call, kept in
        // order with the secrets between them (a later value of a key wins, as it would one call at a time).
        var batch = new List<ConfigSetting>();
        foreach (var setting in settings)
        {
            if (setting.Value.Secret || (batch.Count > 0 && (batch[0].Path != setting.Path || BatchFull(batch))))
                await SetPlainAsync(stack, batch, cancellation);
            if (setting.Value.Secret) await SetConfigAsync(stack, setting.Key, setting.Value, setting.Path, cancellation);
            else batch.Add(setting);
        }
        await SetPlainAsync(stack, batch, cancellation);
    }

    // Linux limits the whole command line to ARG_MAX (2 MiB here); 1,000 snapshot ids are about 100 KB, so a batch this size
    // never comes near it.
    private static bool BatchFull(List<ConfigSetting> batch) => batch.Sum(s => s.Key.Length + s.Value.Value.Length + 14) > 256 * 1024;

    private async Task SetPlainAsync(string stack, List<ConfigSetting> batch, CancellationToken cancellation)
    {
        if (batch.Count == 0) return;
        // pulumi-cli-contract.md §config set-all: `config set-all --stack X [--path] --plaintext k=v …`, a flag before each
        // pair (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set-all/); the CLI splits each pair at its first `=`.
        List<string> args = ["config", "set-all", .. PathFlag(batch[0].Path)];
        foreach (var s in batch) args.AddRange(["--plaintext", $"{s.Key}={s.Value.Value}"]);
        await RunAsync(new Invocation("config set-all", stack, args, _options.CommandTimeout), cancellation);
        _log.Debug("Set {KeyCount} config values on {Stack}", batch.Count, stack);
        batch.Clear();
    }

    public async Task RemoveConfigAsync(string stack, IReadOnlyList<string> keys, bool path = false, CancellationToken cancellation = default)
    {
        // `config rm-all [--path] KEY…` with --stack, as the SDK's RemoveAllConfigAsync sends it (docs/pulumi-adapter.md cites
        // the CLI's source; the recorded contract has no rm-all yet). 2,000 snapshot keys (tenant names up to 40 characters) are about 120 KB, far below the command line's limit.
        foreach (var batch in keys.Chunk(2000))
            await RunAsync(new Invocation("config rm-all", stack, ["config", "rm-all", .. PathFlag(path), .. batch], _options.CommandTimeout), cancellation);
        _log.Debug("Removed {KeyCount} config values from {Stack}", keys.Count, stack);
    }

    public async Task<ConfigValue?> GetConfigAsync(string stack, string key, bool path = false, CancellationToken cancellation = default)
    {
        Run run;
        try
        {
            run = await RunAsync(new Invocation("config get", stack, ["config", "get", .. PathFlag(path), key, "--json"], _options.CommandTimeout), cancellation);
        }
        catch (PulumiCommandException e) when (PulumiErrors.IsMissingConfigKey(e.Error))
        {
            return null;
        }
        var model = JsonSerializer.Deserialize<ConfigRow>(run.Stdout, Json) ?? new ConfigRow();
        if (model.Secret) _secrets.Add(model.Value);
        return new ConfigValue(model.Value ?? "", model.Secret);
    }

    public async Task<IReadOnlyList<ConfigLeaf>> GetAllConfigAsync(string stack, CancellationToken cancellation = default)
    {
        var run = await RunAsync(new Invocation("config", stack, ["config", "--json", "--show-secrets"], _options.CommandTimeout), cancellation);
        var leaves = new List<ConfigLeaf>();
        foreach (var (key, entry) in ParseObject(run.Stdout))
        {
            var secret = entry.TryGetProperty("secret", out var s) && s.ValueKind == JsonValueKind.True;
            // A structured value comes as objectValue; its leaves are set back one path at a time (`config set --path`).
            if (entry.TryGetProperty("objectValue", out var structured) && structured.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                Flatten(key, structured, secret, leaves);
            else if (entry.TryGetProperty("value", out var value))
                leaves.Add(new ConfigLeaf(key, value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText(), secret));
        }
        foreach (var leaf in leaves.Where(l => l.Secret)) _secrets.Add(leaf.Value);
        _log.Debug("Read {LeafCount} config values of {Stack} ({SecretCount} secret)", leaves.Count, stack, leaves.Count(l => l.Secret));
        return leaves;
    }

    private static void Flatten(string path, JsonElement e, bool secret, List<ConfigLeaf> leaves)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                    Flatten(PlainName().IsMatch(p.Name) ? $"{path}.{p.Name}" : $"{path}[{JsonSerializer.Serialize(p.Name)}]", p.Value, secret, leaves);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray()) Flatten($"{path}[{i++}]", item, secret, leaves);
                break;
            case JsonValueKind.Null:
                break;
            default:
                leaves.Add(new ConfigLeaf(path, e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText(), secret));
                break;
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex PlainName();

    public async Task<UpdateResult> UpAsync(string stack, IProgress<PulumiProgress>? progress = null, CancellationToken cancellation = default)
    {
        var invocation = new Invocation("up", stack, ["up", "--yes", "--skip-preview", "--exec-kind", "auto.local"], _options.UpTimeout)
            { Progress = progress, WithEvents = true };
        var run = await RunAsync(invocation, cancellation);
        _log.Information("pulumi up for {Stack} done: {Changes}", stack, Describe(run.Summary));
        return new UpdateResult(run.Summary, await GetOutputsAsync(stack, cancellation));
    }

    public async Task<UpdateSummary?> DestroyAsync(string stack, IProgress<PulumiProgress>? progress = null, CancellationToken cancellation = default)
    {
        var invocation = new Invocation("destroy", stack, ["destroy", "--yes", "--skip-preview", "--exec-kind", "auto.local"], _options.DestroyTimeout)
            { Progress = progress, WithEvents = true };
        var run = await RunAsync(invocation, cancellation);
        _log.Information("pulumi destroy for {Stack} done: {Changes}", stack, Describe(run.Summary));
        return run.Summary;
    }

    public async Task<IReadOnlyDictionary<string, StackOutput>> GetOutputsAsync(string stack, CancellationToken cancellation = default)
    {
        // Two reads, as the SDK does: the masked one says which outputs are secret, the other gives their values.
        var masked = await RunAsync(new Invocation("stack output", stack, ["stack", "output", "--json"], _options.CommandTimeout), cancellation);
        var plain = await RunAsync(new Invocation("stack output", stack, ["stack", "output", "--json", "--show-secrets"], _options.CommandTimeout), cancellation);
        var maskedValues = ParseObject(masked.Stdout);
        var outputs = new Dictionary<string, StackOutput>();
        foreach (var (name, value) in ParseObject(plain.Stdout))
        {
            var mask = maskedValues.GetValueOrDefault(name);
            RegisterSecrets(mask, value);
            outputs[name] = new StackOutput(value, IsSecretMark(mask));
        }
        _log.Debug("Read {OutputCount} outputs of {Stack} ({SecretCount} secret)", outputs.Count, stack, outputs.Values.Count(o => o.IsSecret));
        return outputs;
    }

    public async Task<bool> RemoveStackAsync(string stack, CancellationToken cancellation = default)
    {
        try
        {
            // The name goes as the argument, as the SDK sends it: `stack rm --yes X`.
            await RunAsync(new Invocation("stack rm", stack, ["stack", "rm", "--yes", stack], _options.CommandTimeout) { Scoped = false }, cancellation);
        }
        catch (PulumiCommandException e) when (e.Kind == PulumiFailureKind.StackNotFound)
        {
            return false;
        }
        _log.Information("Removed Pulumi stack {Stack}", stack);
        return true;
    }

    public async Task CancelAsync(string stack, CancellationToken cancellation = default)
    {
        await RunAsync(new Invocation("cancel", stack, ["cancel", "--yes"], _options.CommandTimeout), cancellation);
        _log.Information("Cancelled the running update of {Stack}", stack);
    }

    /// <summary>One command to run; <see cref="Scoped"/> adds `--stack`, <see cref="Value"/> goes after `--`.</summary>
    private sealed record Invocation(string Command, string Stack, IReadOnlyList<string> Arguments, TimeSpan Timeout)
    {
        public bool Scoped { get; init; } = true;
        public ConfigValue? Value { get; init; }
        public bool WithEvents { get; init; }
        public IProgress<PulumiProgress>? Progress { get; init; }
    }

    private sealed record Run(string Stdout, UpdateSummary? Summary);

    private async Task<Run> RunAsync(Invocation invocation, CancellationToken cancellation) =>
        await _retry.ExecuteAsync(async token => await RunOnceAsync(invocation, token), cancellation);

    private async Task<Run> RunOnceAsync(Invocation invocation, CancellationToken cancellation)
    {
        var args = new List<string>(invocation.Arguments);
        if (invocation.Scoped) args.AddRange(["--stack", invocation.Stack]);
        args.AddRange(["--cwd", _options.ProjectDirectory, "--non-interactive"]);
        // The CLI checks for updates over the network otherwise; during an outage that is a wait for nothing.
        var env = new Dictionary<string, string> { ["PULUMI_SKIP_UPDATE_CHECK"] = "true" };
        string? logDirectory = null;
        EventLog? events = null;
        if (invocation.WithEvents)
        {
            logDirectory = Directory.CreateTempSubdirectory("failover-pulumi-events-").FullName;
            var file = Path.Combine(logDirectory, "eventlog.txt");
            args.AddRange(["--event-log", file]);
            env["PULUMI_DEBUG_COMMANDS"] = "true"; // the CLI only knows --event-log when this is set
            events = new EventLog(file, invocation.Progress, _secrets);
        }
        // `config set` without a value reads it from a non-TTY stdin (contract §config set): secrets go that way.
        if (invocation.Value is { Secret: false } v) args.AddRange(["--", v.Value]);

        _log.Debug("Running pulumi {Command} for {Stack}: {Arguments}", invocation.Command, invocation.Stack, string.Join(' ', args));
        using var stopFollowing = new CancellationTokenSource();
        var follow = events?.FollowAsync(stopFollowing.Token) ?? Task.CompletedTask;
        CliOutcome outcome;
        try
        {
            outcome = await _process.RunAsync(new CliCall(args, env, invocation.Timeout, invocation.Value is { Secret: true } secret ? secret.Value : null),
                invocation.Command, invocation.Stack, cancellation);
        }
        finally
        {
            await stopFollowing.CancelAsync();
            await follow;
            if (logDirectory is not null) Directory.Delete(logDirectory, recursive: true);
        }
        if (outcome.ExitCode != 0) throw Failure(invocation, outcome, events);
        return new Run(outcome.Stdout, events?.Summary);
    }

    private PulumiCommandException Failure(Invocation invocation, CliOutcome outcome, EventLog? events)
    {
        var kind = PulumiErrors.Classify(outcome.Stderr);
        // A failed resource makes the CLI exit without an `error:` line; the cause is in the engine's diagnostics.
        var message = !outcome.Stderr.Contains("error: ", StringComparison.Ordinal) && events is { Errors.Count: > 0 }
            ? string.Join("\n", events.Errors)
            : PulumiErrors.Message(outcome.Stderr, outcome.ExitCode);
        message = _secrets.Redact(message);
        // Debug only: the caller decides whether this is a problem (a missing config key is not; the retry logs conflicts).
        _log.Debug("pulumi {Command} for {Stack} failed ({Failure}, exit code {ExitCode}): {Error}",
            invocation.Command, invocation.Stack, kind, outcome.ExitCode, message);
        return new PulumiCommandException(invocation.Command, invocation.Stack, kind, outcome.ExitCode, message);
    }

    /// <summary>The command line as logged: a secret config value is masked even when too short for the registry.</summary>
    private static string[] PathFlag(bool path) => path ? ["--path"] : [];

    private static string Describe(UpdateSummary? summary) => summary is null
        ? "no summary"
        : string.Join(", ", summary.ResourceChanges.Select(c => $"{c.Value} {c.Key}")) + $" in {summary.DurationSeconds}s" +
          (summary.Result is { } r ? $" ({r})" : "");

    private static Dictionary<string, JsonElement> ParseObject(string json) =>
        string.IsNullOrWhiteSpace(json) ? [] : JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json) ?? [];

    private static bool IsSecretMark(JsonElement masked) => masked.ValueKind == JsonValueKind.String && masked.GetString() == "[secret]";

    /// <summary>Registers every string under a place the masked output shows as secret, at any depth.</summary>
    private void RegisterSecrets(JsonElement masked, JsonElement plain)
    {
        if (IsSecretMark(masked))
        {
            foreach (var s in Strings(plain)) _secrets.Add(s);
            if (plain.ValueKind != JsonValueKind.String) _secrets.Add(plain.GetRawText());
            return;
        }
        if (masked.ValueKind == JsonValueKind.Object && plain.ValueKind == JsonValueKind.Object)
            foreach (var p in plain.EnumerateObject())
                if (masked.TryGetProperty(p.Name, out var m)) RegisterSecrets(m, p.Value);
        if (masked.ValueKind == JsonValueKind.Array && plain.ValueKind == JsonValueKind.Array)
            foreach (var (m, p) in masked.EnumerateArray().Zip(plain.EnumerateArray())) RegisterSecrets(m, p);
    }

    private static IEnumerable<string> Strings(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => [e.GetString()!],
        JsonValueKind.Object => e.EnumerateObject().SelectMany(p => Strings(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().SelectMany(Strings),
        _ => [e.GetRawText()],
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record StackRow(string Name, bool Current, DateTimeOffset? LastUpdate, bool? UpdateInProgress, int? ResourceCount, string? Url);

    private sealed record ConfigRow(string? Value = null, bool Secret = false);
}
