namespace Failover.Core.Tests;

/// <summary>Paths of the repository's example stacks, found from the test's output folder.</summary>
internal static class Examples
{
    public static string RepoRoot { get; } = FindRoot();

    public static string CloudStacks => Path.Combine(RepoRoot, "infra", "stacks");
    public static string LocalStacks => Path.Combine(RepoRoot, "examples", "local");

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Failover.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A scratch copy of a stacks folder (and Pulumi.yaml) that a test may change.</summary>
    public static string Copy(string stacksDir, string? projectFile = null)
    {
        var dir = Directory.CreateTempSubdirectory("failover-test-").FullName;
        var stacks = Path.Combine(dir, "stacks");
        Directory.CreateDirectory(stacks);
        foreach (var f in Directory.GetFiles(stacksDir, "Pulumi.*.yaml"))
            if (Path.GetFileName(f) != "Pulumi.yaml") File.Copy(f, Path.Combine(stacks, Path.GetFileName(f)));
        projectFile ??= Path.Combine(RepoRoot, "Pulumi.yaml");
        var text = File.ReadAllText(projectFile).Replace("stackConfigDir: infra/stacks", "stackConfigDir: stacks").Replace("stackConfigDir: .", "stackConfigDir: stacks");
        File.WriteAllText(Path.Combine(dir, "Pulumi.yaml"), text);
        return stacks;
    }
}
