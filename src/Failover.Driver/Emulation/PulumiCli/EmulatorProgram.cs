using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Failover.Driver.Emulation.PulumiCli;

/// <summary>
/// The `pulumi` CLI as the driver uses it, answering like the real CLI (docs/pulumi-adapter.md): the tests' stand-in
/// (a script of outputs and injected failures) and, with <see cref="CloudEmulation.DirectoryVariable"/> set, the
/// emulator of the Hetzner and AWS stacks whose `up` boots the servers Core plans (docs/server-emulation.md).
/// Run as `failover pulumi-emulator ARGS` or by tests/Failover.PulumiStandIn.
/// </summary>
public static class EmulatorProgram
{
    public const string Verb = "pulumi-emulator";

    public static int Run(string[] args)
    {
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        var stateDir = env.GetValueOrDefault("PULUMI_STANDIN_STATE") is { Length: > 0 } s ? s : Path.Combine(Environment.CurrentDirectory, ".pulumi-standin");
        var script = Script.Load(env.GetValueOrDefault("PULUMI_STANDIN_SCRIPT"));
        var state = State.Load(stateDir);
        var debugCommands = env.GetValueOrDefault("PULUMI_DEBUG_COMMANDS") is "true" or "1" or "TRUE" or "True";

        CommandLine? line = null;
        Rule? rule = null;
        int? childPid = null;
        try
        {
            try
            {
                line = CommandLine.Parse(args, debugCommands);
                rule = MatchRule(line);
                if (rule is { Hang: true }) childPid = Process.Start("sleep", "3600").Id;
            }
            finally
            {
                Record();
            }
            if (rule is { Hang: true }) Thread.Sleep(Timeout.Infinite);
            if (rule is { Replaces: true })
            {
                Console.Out.Write(rule.Stdout ?? "");
                Console.Error.Write(rule.Stderr ?? "");
                return rule.ExitCode;
            }
            return new Commands(line, state, script, env, stateDir, Console.Out, Console.Error).Run(rule);
        }
        catch (CliError e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return e.ExitCode;
        }

        Rule? MatchRule(CommandLine cl)
        {
            var stack = cl.Value("stack") ?? (cl.Command is "stack init" or "stack select" or "stack rm" ? cl.Positionals.FirstOrDefault() : null) ?? state.Current;
            for (var i = 0; i < script.Rules.Count; i++)
            {
                var r = script.Rules[i];
                if (r.Command != cl.Command || (r.Stack is not null && r.Stack != stack)) continue;
                var used = state.RuleUses.GetValueOrDefault(i.ToString());
                if (r.Times is { } times && used >= times) continue;
                state.RuleUses[i.ToString()] = used + 1;
                state.Save(stateDir);
                return r;
            }
            return null;
        }

        void Record()
        {
            if (env.GetValueOrDefault("PULUMI_STANDIN_CALLS") is not { Length: > 0 } calls) return;
            var recorded = new JsonObject
            {
                ["args"] = new JsonArray(args.Select(a => (JsonNode)a!).ToArray()),
                ["command"] = line?.Command,
                ["cwd"] = Environment.CurrentDirectory,
                ["env"] = new JsonObject(env.Where(e => e.Key.StartsWith("PULUMI_") && !e.Key.StartsWith("PULUMI_STANDIN_"))
                    .OrderBy(e => e.Key).Select(e => KeyValuePair.Create(e.Key, (JsonNode?)e.Value))),
                ["pid"] = Environment.ProcessId,
                ["childPid"] = childPid,
            };
            using var file = new FileStream(calls, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            using var writer = new StreamWriter(file);
            writer.WriteLine(recorded.ToJsonString(new JsonSerializerOptions()));
        }
    }
}
