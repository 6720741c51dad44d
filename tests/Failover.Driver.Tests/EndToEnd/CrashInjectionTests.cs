using System.Text.RegularExpressions;
using Failover.Core.Topology;
using Failover.Driver.Engine;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// Kills the real `failover` process at every step boundary and in the middle of steps, resumes, and checks
/// that the run completes with every side effect done exactly once: each journaled effect completed once,
/// every tenant restored with exactly production's rows, one DNS answer pointing at the standby.
/// </summary>
public class CrashInjectionTests(LocalTopology site) : IClassFixture<LocalTopology>
{
    // Every step boundary (the end of one step is the start of the next), and the dangerous middles: an effect done but
    // not yet journaled, so it runs again on resume and must not double anything. Each chain is one failover killed at
    // every point in turn, in the order the run reaches them: each resume starts from exactly one of these points, as a
    // fresh run per point would (12 failovers, 7 minutes of the test run), and the journal must still add up to one
    // failover after all of them.
    public static IEnumerable<object[]> CrashChains() =>
        new[]
        {
            new[] { "step:assess:before", "step:select-backup:before", "step:provision:before", "step:restore:before",
                    "step:gate:before", "step:fence:before", "step:cutover:before", "step:backups:before", "step:report:before", "step:report:after" },
            new[] { "effect:provision:local-standby:after", "effect:restore:tailspin:after", "effect:dns:point:after",
                    // The new serving site's first backup ran but was not journaled: resumed, it runs again (the agent never stacks runs).
                    "effect:backups:start:local-standby:after" },
        }.Select(chain => new object[] { string.Join(",", chain) });

    [Theory]
    [MemberData(nameof(CrashChains))]
    public async Task A_run_killed_at_every_point_in_turn_resumes_to_one_complete_failover(string chain)
    {
        await site.ResetAsync();
        var points = chain.Split(',');
        var first = site.Failover(points[0], "run", "--to", "local-standby", "--yes");
        Assert.True(first.ExitCode != 0, $"the crash at {points[0]} did not happen:\n{first.Output}");
        Assert.Contains($"killed at {points[0]}", first.Output);

        foreach (var crashAt in points.Skip(1).Append(null))
        {
            var resumed = Resume(crashAt);
            if (crashAt is null)
                Assert.True(resumed.ExitCode == 0, resumed.Output);
            else
                Assert.True(resumed.Output.Contains($"killed at {crashAt}"), $"the resume did not reach {crashAt}:\n{resumed.Output}");
        }

        var runs = site.Store.Runs();
        await site.AssertOneCompleteFailoverAsync(Journal.Read(site.Store.JournalPath(Assert.Single(runs))));

        var report = File.ReadAllText(Path.Combine(site.Store.RunDirectory(runs[0]), "report.md"));
        Assert.Contains("**Resolved.**", report);
        Assert.Contains("resumed", report);
    }

    /// <summary>A resume after a kill: the killed process left its lock, stale, broken explicitly by `unlock`.</summary>
    private (int ExitCode, string Output) Resume(string? crashAt)
    {
        var resumed = site.Failover(crashAt, "resume");
        if (resumed.ExitCode != 5) return resumed;
        Assert.Contains("the lock is stale", resumed.Output);
        Assert.Equal(0, site.Failover(null, "unlock").ExitCode);
        return site.Failover(crashAt, "resume");
    }

    [Fact]
    public async Task The_lock_s_lease_is_the_production_stack_file_s_lockLease_and_FAILOVER_LOCK_LEASE_wins_over_it()
    {
        // A holder killed right after taking the lock leaves it with the lease it took: read back from the lock itself.
        TimeSpan LeaseLeft()
        {
            var owner = System.Text.Json.JsonSerializer.Deserialize<LockOwner>(File.ReadAllText(site.Store.LockPath))!;
            return owner.LeaseUntil!.Value - owner.StartedAt;
        }
        var file = site.Topology.Production.File;
        var before = File.ReadAllText(file);
        try
        {
            File.WriteAllText(file, before.Replace("  failover:role: production\n", "  failover:role: production\n  failover:timeLimits: { lockLease: 10m }\n"));
            await site.ResetAsync();
            Assert.Contains("killed at step:assess:before", site.Failover("step:assess:before", "run", "--to", "local-standby", "--yes").Output);
            Assert.InRange(LeaseLeft(), TimeSpan.FromMinutes(9.5), TimeSpan.FromMinutes(10.5));

            await site.ResetAsync();
            var environment = new Dictionary<string, string> { [Failover.Driver.Cli.RunCommands.LeaseVariable] = "120" };
            Assert.Contains("killed at step:assess:before", site.FailoverWith(environment, "step:assess:before", "run", "--to", "local-standby", "--yes").Output);
            Assert.InRange(LeaseLeft(), TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(140));
        }
        finally
        {
            File.WriteAllText(file, before);
            await site.ResetAsync();
        }
    }

    [Fact]
    public async Task Two_failovers_started_at_once_one_refuses_naming_the_owner()
    {
        await site.ResetAsync();
        var a = Task.Run(() => site.Failover(null, "run", "--to", "local-standby", "--yes"));
        var b = Task.Run(() => site.Failover(null, "run", "--to", "local-standby", "--yes"));
        var results = await Task.WhenAll(a, b);
        var completed = Assert.Single(results, r => r.ExitCode == 0);
        // Without a terminal (stdout and stderr are pipes here) the run prints plain lines only, one per tenant's restore
        // (asserted here rather than by a failover of its own in TerminalProgressTests, which runs its fixture at a larger scale).
        Assert.DoesNotMatch(TerminalProgressTests.Escape, completed.Output);
        Assert.Matches(new Regex(@"^    northwind  [\d.]+ [KM]B of [\d.]+ [KM]B \(100%\)  .*/s  done in", RegexOptions.Multiline), completed.Output);
        var refused = Assert.Single(results, r => r.ExitCode != 0);
        // Refused either by the lock (the other is running) or, if it already finished, by nothing left to do.
        Assert.True(refused.ExitCode == 5 && refused.Output.Contains("another failover is running") && refused.Output.Contains("pid"), refused.Output);
        Assert.Single(site.Store.Runs());
        Assert.Equal([LocalTopology.Standby], await site.DnsAnswerAsync());
    }
}
