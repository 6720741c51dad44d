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
        "99999999999999999999", "fsn1", "hetzner", "secure: v1:x", "{ secure: v1:x }", "1h", "production", "é", "\t", "null", "[1, [2]]"];

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(0, 12).Select(i => new object[] { i });

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
            Check(s, $"seed {seed} round {round} file {Path.GetFileName(victim)}:\n{content}");
        }
    }

    private static void Check(Scenario s, string context)
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
