using System.Diagnostics;
using System.Net.Sockets;
using Failover.Driver.Local;
using Failover.Driver.Tests.Support;
using PostgresCluster = Failover.Driver.Local.PostgresCluster;

namespace Failover.Driver.Tests.Local;

/// <summary>A local site's PostgreSQL cluster on 127.0.19.1, started by the driver's own pg_ctl wrapper.</summary>
public class PostgresClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("failover-pgctl-").FullName;

    public void Dispose()
    {
        foreach (var p in Postmasters()) using (p) p.Kill(true);
        Directory.Delete(_dir, recursive: true);
    }

    private List<Process> Postmasters() => Process.GetProcessesByName("postgres").Where(p =>
    {
        try { return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(_dir, StringComparison.Ordinal); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }).ToList();

    [Fact]
    public async Task A_start_that_pg_ctl_gave_up_waiting_for_leaves_no_server_coming_up_behind_it()
    {
        await DebianPackages.EnsureAsync(DebianPackages.Drill.Where(p => p.Package.StartsWith("postgresql")).ToList(), _ => { }, CancellationToken.None);
        File.SetUnixFileMode(_dir, (UnixFileMode)Convert.ToInt32("755", 8));
        var port = Processes.FreePort();
        // pg_ctl -t 0 gives up at once, as -t 60 does on a machine too loaded to start PostgreSQL within a minute.
        var cluster = new PostgresCluster(Path.Combine(_dir, "pg", "data"), "127.0.19.1", port) { StartWaitSeconds = 0 };
        await cluster.InitAsync(CancellationToken.None);

        var failed = await Assert.ThrowsAsync<Failover.Driver.Engine.ToolFailureException>(() => cluster.StartAsync(CancellationToken.None));
        // Worded as every tool failure: the command, what for, how it ended, its error line, what to do.
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(failed.Message, @"^pg_ctl start failed starting the cluster on 127\.0\.19\.1:\d+ \(exit 1\): pg_ctl: server did not start in time\. " +
                       @"Its log /.+/pg/postgres\.log says why \(a port in use, a machine too loaded to start it within 0 s\); fix that and run again$"), failed.Message);

        // Long enough for a postmaster left starting to accept connections (it does within about a second here).
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Empty(Postmasters());
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.19.1", port));
    }
}
