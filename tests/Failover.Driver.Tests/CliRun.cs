using Failover.Driver.Cli;

namespace Failover.Driver.Tests;

/// <summary>Runs the `failover` command in-process and captures what an operator would see.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public static CliRun Of(string workingDirectory, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = new App(stdout, stderr, workingDirectory, logConsole: stderr).Run(args);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>The repository's folders, found from the test's output folder.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Failover.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    /// <summary>A scratch copy of the repository's Pulumi.yaml and infra/stacks that a test may change.</summary>
    public static string CopyProject()
    {
        var dir = Directory.CreateTempSubdirectory("failover-cli-").FullName;
        File.Copy(Path.Combine(Root, "Pulumi.yaml"), Path.Combine(dir, "Pulumi.yaml"));
        Directory.CreateDirectory(Path.Combine(dir, "infra", "stacks"));
        foreach (var f in Directory.GetFiles(Path.Combine(Root, "infra", "stacks")))
            File.Copy(f, Path.Combine(dir, "infra", "stacks", Path.GetFileName(f)));
        return dir;
    }
}
