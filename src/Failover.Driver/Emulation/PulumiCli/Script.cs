using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>
/// What a test tells the stand-in (JSON file named by PULUMI_STANDIN_SCRIPT): failures to inject, the
/// outputs and resources `up` produces per stack ("*" for any stack), and the version to report.
/// </summary>
public sealed class Script
{
    public string Version { get; set; } = "3.230.0";
    public List<Rule> Rules { get; set; } = [];
    /// <summary>Stack (or "*") → output name → value; {"$secret": v} makes a secret output.</summary>
    public Dictionary<string, JsonObject> Outputs { get; set; } = [];
    /// <summary>Stack (or "*") → resources `up` creates, besides the root stack.</summary>
    public Dictionary<string, List<Resource>> Resources { get; set; } = [];

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static Script Load(string? file) =>
        file is null || !File.Exists(file) ? new Script() : JsonSerializer.Deserialize<Script>(File.ReadAllText(file), Options)!;

    public JsonObject OutputsFor(string stack) =>
        (Outputs.GetValueOrDefault(stack) ?? Outputs.GetValueOrDefault("*") ?? []).DeepClone().AsObject();

    public List<Resource> ResourcesFor(string stack) => Resources.GetValueOrDefault(stack) ?? Resources.GetValueOrDefault("*") ?? [];
}

/// <summary>A resource of the fake program.</summary>
public sealed record Resource(string Type, string Name)
{
    public string Key => $"{Type}::{Name}";
}

/// <summary>
/// A failure to inject into matching calls: the first <see cref="Times"/> calls of <see cref="Command"/>
/// (for <see cref="Stack"/> if given; every call when Times is null) print <see cref="Stderr"/> and exit
/// with <see cref="ExitCode"/>, or hang until killed, or (for up) fail a resource.
/// </summary>
public sealed class Rule
{
    public required string Command { get; set; }
    public string? Stack { get; set; }
    public int? Times { get; set; }
    public string? Stdout { get; set; }
    public string? Stderr { get; set; }
    public int ExitCode { get; set; } = ExitCodes.Generic;
    /// <summary>Sleep until killed, after starting a child process that sleeps too (to check the tree is killed).</summary>
    public bool Hang { get; set; }
    /// <summary>For `up`: the engine fails the first resource with this message (diagnostics, no `error:` line).</summary>
    public string? ResourceFailure { get; set; }

    [JsonIgnore] public bool Replaces => ResourceFailure is null;
}
