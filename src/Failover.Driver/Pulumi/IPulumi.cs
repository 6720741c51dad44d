using System.Text.Json;
using Failover.Core.Sites;

namespace Failover.Driver.Pulumi;

/// <summary>
/// What the failover driver asks of Pulumi, one method per CLI command it runs. Every call names its
/// stack explicitly; nothing depends on the stack the CLI last selected.
/// </summary>
public interface IPulumi
{
    /// <summary>Selects the stack, creating it when the backend has no stack of that name.</summary>
    Task SelectOrCreateStackAsync(string stack, CancellationToken cancellation = default);

    /// <summary>Stacks of the project (`stack ls --json`).</summary>
    Task<IReadOnlyList<StackSummary>> ListStacksAsync(CancellationToken cancellation = default);

    /// <summary>Sets one config value; with <paramref name="path"/> the key is a path into a structured value (`failover:dns.active`).</summary>
    Task SetConfigAsync(string stack, string key, ConfigValue value, bool path = false, CancellationToken cancellation = default);

    /// <summary>
    /// Sets several values of one stack, in order: the plain ones in one `config set-all` call per path flag, each secret
    /// by itself through stdin (never on a command line). One CLI start per value made 1,000 snapshot ids minutes of RTO.
    /// </summary>
    Task SetConfigAsync(string stack, IReadOnlyList<ConfigSetting> settings, CancellationToken cancellation = default);

    /// <summary>
    /// Removes config values in one `config rm-all` call; with <paramref name="path"/> each key is a path into a structured
    /// value (`failover:snapshots.northwind`). A key the stack does not hold is no error (the CLI removes nothing).
    /// </summary>
    Task RemoveConfigAsync(string stack, IReadOnlyList<string> keys, bool path = false, CancellationToken cancellation = default);

    /// <summary>One config value, decrypted; null when the stack has no such key.</summary>
    Task<ConfigValue?> GetConfigAsync(string stack, string key, bool path = false, CancellationToken cancellation = default);

    /// <summary>Every config value of the stack, decrypted, as leaves (`config --json --show-secrets`); secrets are registered for redaction.</summary>
    Task<IReadOnlyList<ConfigLeaf>> GetAllConfigAsync(string stack, CancellationToken cancellation = default);

    /// <summary>Runs `up` without a preview, reporting engine progress as it happens, and returns the summary and the stack outputs.</summary>
    Task<UpdateResult> UpAsync(string stack, IProgress<PulumiProgress>? progress = null, CancellationToken cancellation = default);

    /// <summary>The stack outputs; secret values are registered for redaction and never logged.</summary>
    Task<IReadOnlyDictionary<string, StackOutput>> GetOutputsAsync(string stack, CancellationToken cancellation = default);

    /// <summary>Deletes every resource of the stack (the stack itself and its config remain).</summary>
    Task<UpdateSummary?> DestroyAsync(string stack, IProgress<PulumiProgress>? progress = null, CancellationToken cancellation = default);

    /// <summary>Removes the stack, its history and its config file (`stack rm --yes`); false when there is no such stack.</summary>
    Task<bool> RemoveStackAsync(string stack, CancellationToken cancellation = default);

    /// <summary>Clears a stale update lock left by a killed `up`/`destroy` (`cancel --yes`).</summary>
    Task CancelAsync(string stack, CancellationToken cancellation = default);
}

/// <summary>A config value as Pulumi stores it: plain text or a secret it encrypts.</summary>
public sealed record ConfigValue(string Value, bool Secret)
{
    public static ConfigValue Plain(string value) => new(value, false);
    public static ConfigValue Encrypted(string value) => new(value, true);

    // Records print their members; a secret must not reach a log through string interpolation.
    public override string ToString() => Secret ? "[secret]" : Value;
}

/// <summary>One value to set: its key, the value, and whether the key is a path into a structured value.</summary>
public sealed record ConfigSetting(string Key, ConfigValue Value, bool Path = false);

/// <summary>One row of `stack ls --json`.</summary>
public sealed record StackSummary(string Name, bool Current, DateTimeOffset? LastUpdate, bool UpdateInProgress, int? ResourceCount, string? Url);

/// <summary>A stack output; <see cref="Value"/> holds the plain value even for secrets.</summary>
public sealed record StackOutput(JsonElement Value, bool IsSecret)
{
    /// <summary>The value as text: strings as they are, anything else as JSON.</summary>
    public string Text => Value.ValueKind == JsonValueKind.String ? Value.GetString()! : Value.GetRawText();

    public override string ToString() => IsSecret ? "[secret]" : Text;
}

/// <summary>What `up` reports back: the engine's summary (null if the CLI wrote none) and the outputs after it.</summary>
public sealed record UpdateResult(UpdateSummary? Summary, IReadOnlyDictionary<string, StackOutput> Outputs);
