using System.Diagnostics;
using Failover.Driver.Composition;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// The README's local walk-through as a new user types it, in a shell without FAILOVER_DNS_API_KEY: `drill --keep`,
/// then `status`, `migrate --to local-prod` (the way back) and `--confirm`, then `drill --clean`. Sites on 127.0.5.1x.
/// </summary>
public class WalkthroughTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("failover-walk-").FullName;

    public WalkthroughTests()
    {
        LocalTopology.CopyExamples(_project, 10, Processes.FreePort(), Processes.FreePort(), "127.0.5.");
        // A short old TTL, so the migration's wait for it is seconds long.
        var dns = Path.Combine(_project, "Pulumi.local-dns.yaml");
        File.WriteAllText(dns, File.ReadAllText(dns).Replace("ttl: 60", "ttl: 2"));
    }

    public void Dispose()
    {
        Run("drill", "--clean");
        Directory.Delete(_project, true);
    }

    /// <summary>The real binary in the project folder, with no DNS API key in its environment.</summary>
    private (int Code, string Output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _project, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "failover.dll"));
        foreach (var a in new[] { "--stacks", _project }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment.Remove(RunPortsFactory.DnsApiKeyVariable);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(true); throw new TimeoutException($"failover {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void After_a_kept_drill_the_next_steps_find_the_dns_key_and_the_way_back_completes()
    {
        var drill = Run("drill", "--scale", "0.01", "--keep");
        Assert.True(drill.Code == 0, drill.Output);
        var file = Path.Combine(_project, ".failover", CredentialsFile.FileName);
        Assert.Contains(file, drill.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));

        var status = Run("status");
        Assert.DoesNotContain(RunPortsFactory.DnsApiKeyVariable, status.Output);
        Assert.Contains("local-standby", status.Output);

        var back = Run("migrate", "--to", "local-prod", "--yes", "--wait");
        Assert.True(back.Code == 7, back.Output); // cut over, the old site fenced until --confirm
        Assert.DoesNotContain("FAILED", back.Output);
        var confirm = Run("migrate", "--to", "local-prod", "--confirm");
        Assert.True(confirm.Code == 0, confirm.Output);
        Assert.Contains("Migrated to local-prod", confirm.Output);

        Assert.Equal(0, Run("drill", "--clean").Code);
        Assert.False(File.Exists(file));
    }
}
