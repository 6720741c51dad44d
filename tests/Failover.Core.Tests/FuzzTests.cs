using Failover.Core.Planning;
using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>
/// Mutates the example stack files hundreds of ways: each must load into a valid topology that can be
/// planned, or fail with a TopologyException naming a file; never an unhandled exception.
/// </summary>
public class FuzzTests
{
    private static readonly string[] Junk = ["", "~", "-1", "0", "1e309", "NaN", "[]", "{}", "\"\"", "'", ": x", "- a", "&a", "*a", "!!binary x",
        "99999999999999999999", "fsn1", "hetzner", "secure: v1:x", "{ secure: v1:x }", "1h", "production", "é", "\t", "null", "[1, [2]]",
        // What a black-box test broke the reader with: line breaks YAML honours inside quoted names, shell in names,
        // secure: holding a list, a map or nothing, a self-referencing alias, an alias bomb and 50,000-deep nesting.
        "\"db\\ntouch /tmp/x #\"", "\"db\\rbootcmd: [id]\"", "\"db\\u2028bootcmd: [id]\"", "\"x\\u2029y\"", "\"x\\u0085y\"", "sb$(id)",
        "{ secure: [a, b] }", "{ secure: { a: b } }", "{ secure: }", "{ secure: \"\" }", "&a [*a]", "&a { k: *a }", AliasBomb(),
        new string('[', 50_000) + new string(']', 50_000), "a..b", ".", "exa mple.com", new string('a', 64) + ".com", "127.0.0.14:0"];

    /// <summary>Ten-fold per level, seven levels: ten million nodes once expanded, a few hundred bytes on disk.</summary>
    private static string AliasBomb()
    {
        var levels = new List<string> { "&a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 7; i++) levels.Add($"&a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]");
        return "[" + string.Join(", ", levels) + "]";
    }

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(0, 16).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_stack_files_load_or_fail_cleanly(int seed)
    {
        var rng = new Random(seed * 7919);
        var cloud = seed % 2 == 0;
        using var s = cloud ? Scenario.Cloud() : Scenario.Local();
        var files = Directory.GetFiles(s.Stacks, "Pulumi.*.yaml").Where(f => !f.EndsWith("Pulumi.yaml")).Order().ToArray();
        var originals = files.ToDictionary(f => f, File.ReadAllText);
        for (var round = 0; round < 25; round++)
        {
            foreach (var (f, text) in originals) File.WriteAllText(f, text);
            var victim = files[rng.Next(files.Length)];
            var mutations = 1 + rng.Next(3);
            var content = originals[victim];
            for (var m = 0; m < mutations; m++) content = Mutate(content, rng);
            File.WriteAllText(victim, content);
            var extra = rng.Next(6) == 0 ? AddHostileFile(s.Stacks, victim, rng) : null;
            Check(s, $"seed {seed} round {round} file {Path.GetFileName(victim)}{(extra is null ? "" : $" and {Path.GetFileName(extra)}")}:\n{content}");
            if (extra is not null) File.Delete(extra);
        }
    }

    /// <summary>A file beside the stack files that is no ordinary stack file: a FIFO, a link to /dev/zero, a twin or a hostile name.</summary>
    private static string AddHostileFile(string stacks, string victim, Random rng)
    {
        var stack = StackFileReader.StackNameOf(victim)!;
        switch (rng.Next(4))
        {
            case 0:
                var fifo = Path.Combine(stacks, "Pulumi.fifo.yaml");
                using (var p = System.Diagnostics.Process.Start("mkfifo", fifo)) p.WaitForExit();
                return fifo;
            case 1:
                var link = Path.Combine(stacks, "Pulumi.zero.yaml");
                File.CreateSymbolicLink(link, "/dev/zero");
                return link;
            case 2:
                var twin = Path.Combine(stacks, $"Pulumi.{stack}.yml");
                File.Copy(victim, twin);
                return twin;
            default:
                var hostile = Path.Combine(stacks, "Pulumi.sb$(touch pwned).yaml");
                File.Copy(victim, hostile);
                return hostile;
        }
    }

    /// <summary>Within the test's own time bound: a hostile file that hangs the reader fails the test instead of the suite.</summary>
    private static void Check(Scenario s, string context)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var check = Task.Run(() => CheckNow(s, context));
        try { check.Wait(bound.Token); }
        catch (OperationCanceledException) { Assert.Fail($"loading did not end\n{context}"); }
        check.GetAwaiter().GetResult();
    }

    private static void CheckNow(Scenario s, string context)
    {
        try
        {
            var t = s.Load();
            foreach (var standby in t.Standbys)
            {
                var r = Planner.Plan(t, standby);
                Assert.True(r.Rto.Value >= TimeSpan.Zero, context);
            }
            _ = PolicyBook.Evaluate(t);
        }
        catch (TopologyException e)
        {
            Assert.NotEmpty(e.Problems);
            foreach (var p in e.Problems)
            {
                Assert.False(string.IsNullOrWhiteSpace(p.File), context);
                Assert.False(string.IsNullOrWhiteSpace(p.Message), context);
            }
        }
        catch (Exception e)
        {
            Assert.Fail($"unhandled {e.GetType().Name}: {e.Message}\n{context}\n{e.StackTrace}");
        }
    }

    private static string Mutate(string text, Random rng)
    {
        var lines = text.Split('\n').ToList();
        var i = rng.Next(lines.Count);
        switch (rng.Next(9))
        {
            case 0: lines.RemoveAt(i); break;
            case 1: lines.Insert(i, lines[i]); break;
            case 2: var j = rng.Next(lines.Count); (lines[i], lines[j]) = (lines[j], lines[i]); break;
            case 3: lines[i] = new string(' ', rng.Next(8)) + lines[i].TrimStart(); break;
            case 4: // replace the value after a colon
                var c = lines[i].IndexOf(": ", StringComparison.Ordinal);
                if (c >= 0) lines[i] = lines[i][..(c + 2)] + Junk[rng.Next(Junk.Length)];
                break;
            case 5: // replace a word
                var words = lines[i].Split(' ');
                words[rng.Next(words.Length)] = Junk[rng.Next(Junk.Length)];
                lines[i] = string.Join(' ', words);
                break;
            case 6: return text[..rng.Next(text.Length + 1)];
            case 7: var pos = rng.Next(lines[i].Length + 1); lines[i] = lines[i].Insert(pos, ((char)rng.Next(32, 127)).ToString()); break;
            default: // rename a key
                var k = lines[i].IndexOf(':');
                if (k > 0) lines[i] = lines[i][..k] + "x" + lines[i][k..];
                break;
        }
        return string.Join('\n', lines);
    }
}
