using System.Diagnostics;

namespace Failover.Driver.Tests;

/// <summary>
/// The tool as an operator installs it: the `dotnet tool` package from a local feed, and the self-contained
/// single-file binary the release workflow builds; both run without the repository and name their commit.
/// </summary>
public class InstallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-install-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output) Run(string file, string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(8))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Head() => Run("git", Repo.Root, "rev-parse", "HEAD").Output.Trim();

    // One release build serves both checks: packing the tool twice cost a minute of the test run on two cores.
    [Fact]
    public void The_release_script_builds_a_tool_package_that_installs_and_a_single_file_binary_that_runs_without_dotnet()
    {
        var out_ = Path.Combine(_dir, "dist");
        var build = Run(Path.Combine(Repo.Root, "deploy", "release", "build.sh"), Repo.Root, out_, "", "linux-x64");
        Assert.True(build.Code == 0, build.Output);
        Assert.True(File.Exists(Path.Combine(out_, "failover.0.1.0.nupkg")), build.Output);
        var binary = Path.Combine(out_, "failover-linux-x64");
        Assert.Equal([binary], Directory.GetFiles(out_, "failover-*"));
        var psi = new ProcessStartInfo(binary, "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.Environment["PATH"] = "/usr/bin:/bin";
        psi.Environment.Remove("DOTNET_ROOT");
        using (var p = Process.Start(psi)!)
        {
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            Assert.Contains(Head(), text);
        }

        // The package the release ships installs as a dotnet tool from that folder as a feed.
        var tools = Path.Combine(_dir, "tools");
        var install = Run("dotnet", _dir, "tool", "install", "--tool-path", tools, "--add-source", out_, "failover");
        Assert.True(install.Code == 0, install.Output);
        var version = Run(Path.Combine(tools, "failover"), _dir, "--version");
        Assert.Equal(0, version.Code);
        Assert.Contains(Head(), version.Output);
        var plan = Run(Path.Combine(tools, "failover"), _dir, "plan", "--stacks", Path.Combine(Repo.Root, "examples", "local"), "--to", "local-standby");
        Assert.True(plan.Code == 0, plan.Output);
        Assert.Contains("recover on local-standby", plan.Output);
    }
}
