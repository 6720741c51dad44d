using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>A scratch copy of an example topology that a test edits before loading it.</summary>
internal sealed class Scenario : IDisposable
{
    public string Stacks { get; }
    public string Root => Path.GetDirectoryName(Stacks)!;

    private Scenario(string stacks) => Stacks = stacks;

    public static Scenario Cloud() => new(Examples.Copy(Examples.CloudStacks));
    public static Scenario Local() => new(Examples.Copy(Examples.LocalStacks, Path.Combine(Examples.LocalStacks, "Pulumi.yaml")));

    public string PathOf(string stack) => Path.Combine(Stacks, $"Pulumi.{stack}.yaml");

    public Scenario Edit(string stack, string find, string replace)
    {
        var text = File.ReadAllText(PathOf(stack));
        Assert.True(text.Contains(find, StringComparison.Ordinal), $"'{find}' not in {stack}");
        File.WriteAllText(PathOf(stack), text.Replace(find, replace, StringComparison.Ordinal));
        return this;
    }

    public Scenario Write(string stack, string yaml) { File.WriteAllText(PathOf(stack), yaml); return this; }
    public Scenario Remove(string stack) { File.Delete(PathOf(stack)); return this; }

    public Scenario Project(string find, string replace)
    {
        var p = Path.Combine(Root, "Pulumi.yaml");
        File.WriteAllText(p, File.ReadAllText(p).Replace(find, replace, StringComparison.Ordinal));
        return this;
    }

    public Topology.Topology Load() => TopologyLoader.Load(Stacks);

    public IReadOnlyList<Finding> Findings(string? target = null)
    {
        var t = Load();
        return PolicyBook.Evaluate(t, target is null ? null : t.Find(target));
    }

    public TopologyProblem Problem()
    {
        var e = Assert.Throws<TopologyException>(() => Load());
        return e.Problems[0];
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
