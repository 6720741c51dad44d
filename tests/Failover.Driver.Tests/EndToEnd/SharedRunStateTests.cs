using Failover.Driver.Engine;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// examples/local on 127.0.4.2x whose Pulumi.yaml names an S3 state backend: a real Ceph RGW on 127.0.4.2, so the
/// lock, journals and reports live in the bucket, shared by every "machine" (a `failover` process with its own
/// FAILOVER_HOST). The local sites stay in the project folder: they are the datacenter, not an operator's laptop.
/// </summary>
public sealed class SharedStateTopology() : LocalTopology(20, "127.0.4.")
{
    public const string Prefix = "team";
    /// <summary>
    /// Short, so that a killed holder's lease runs out within a test (renewed every third). No test needs a live holder's
    /// lease to hold: a refusal names the holder whether its lease is live or ran out, and a late renewal with no
    /// contender still succeeds, so a loaded machine changes which branch a test takes, never its outcome.
    /// </summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    public CephRgw Rgw { get; } = new("127.0.4.2");

    protected override void Customize(string project)
    {
        var file = Path.Combine(project, "Pulumi.yaml");
        var text = File.ReadAllText(file);
        Assert.Contains("url: file://./.failover/pulumi-state", text);
        File.WriteAllText(file, text.Replace("url: file://./.failover/pulumi-state", $"url: {Rgw.BackendUrl(Prefix)}"));
    }

    public override RunStore Store => new(Path.Combine(Project, ".failover"), Rgw.Store(Prefix));

    protected override IReadOnlyDictionary<string, string> ExtraEnvironment() => new Dictionary<string, string>(Rgw.Environment)
    {
        ["FAILOVER_LOCK_LEASE"] = Lease.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public override async Task ResetAsync()
    {
        await base.ResetAsync();
        Rgw.Clear(Prefix + "/");
        ForgetLocalCopies();
    }

    /// <summary>What one machine wrote into its own .failover folder (report files): another machine has none of it.</summary>
    public void ForgetLocalCopies()
    {
        foreach (var p in new[] { Path.Combine(Store.Root, "runs"), Path.Combine(Store.Root, "current"), Path.Combine(Store.Root, "lock") })
            if (Directory.Exists(p)) Directory.Delete(p, true); else if (File.Exists(p)) File.Delete(p);
    }

    public (int ExitCode, string Output) On(string host, string? crashAt, params string[] args) =>
        FailoverWith(new Dictionary<string, string> { [OperatorHost.Variable] = host }, crashAt, args);

    public override async Task DisposeAsync()
    {
        try { await base.DisposeAsync(); }
        finally { Rgw.Dispose(); }
    }
}

/// <summary>Two operators on two machines, one shared run state on a real S3: one lock holder at a time, and a takeover that repeats nothing.</summary>
public sealed class SharedRunStateTests(SharedStateTopology site) : IClassFixture<SharedStateTopology>
{
    [Fact]
    public async Task Two_machines_starting_a_failover_at_once_five_times_one_wins_and_the_other_exits_5_naming_the_holder()
    {
        // The lock's atomicity is raced 20 times in-process against the same RGW (RunStateStoreTests); here five rounds of
        // two whole CLI processes show the wiring: who wins, the exit code and the holder's name (20 took 2 minutes).
        await site.ResetAsync();
        for (var round = 0; round < 5; round++)
        {
            site.Rgw.Clear(SharedStateTopology.Prefix + "/");
            site.ForgetLocalCopies();
            // Each winner dies right after taking the lock and opening its journal: nothing else is changed.
            var a = Task.Run(() => site.On("machine-a", "step:assess:before", "run", "--to", "local-standby", "--yes"));
            var b = Task.Run(() => site.On("machine-b", "step:assess:before", "run", "--to", "local-standby", "--yes"));
            var results = new[] { ("machine-a", await a), ("machine-b", await b) };
            var winners = results.Where(r => r.Item2.Output.Contains("killed at step:assess:before")).ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} winners\n{results[0].Item2.Output}\n----\n{results[1].Item2.Output}");
            var (winner, _) = winners[0];
            var (_, refused) = results.Single(r => r.Item1 != winner);
            Assert.True(refused.ExitCode == 5, $"round {round}: the other exited {refused.ExitCode}:\n{refused.Output}");
            Assert.Contains($"another failover is running: `failover run --to local-standby`", refused.Output);
            Assert.Contains($"on host {winner}", refused.Output);
            Assert.Equal(winner, site.Store.LockHolder!.Host);
            Assert.Single(site.Store.Runs());
        }
    }

    [Fact]
    public async Task A_killed_holder_s_run_is_resumed_from_another_machine_after_its_lease_with_every_effect_done_once()
    {
        await site.ResetAsync();
        var first = site.On("machine-a", "effect:restore:tailspin:after", "run", "--to", "local-standby", "--yes");
        Assert.Contains("killed at effect:restore:tailspin:after", first.Output);
        site.ForgetLocalCopies(); // machine-b starts from its own checkout: only the shared state tells it anything

        var early = site.On("machine-b", null, "resume");
        Assert.True(early.ExitCode == 5, early.Output);
        Assert.Contains("on host machine-a", early.Output);
        var unlock = site.On("machine-b", null, "unlock");
        if (unlock.ExitCode == 5) // the lease was still live when it looked: refused, naming the holder (only --force breaks it)
        {
            Assert.Contains("on host machine-a", unlock.Output);
            // Nothing renews a killed holder's lease: wait until the shared lock says it ran out, then ask again.
            while (!RunLock.IsStale(site.Store.LockHolder!)) await Task.Delay(200);
            unlock = site.On("machine-b", null, "unlock");
        }
        Assert.True(unlock.ExitCode == 0, unlock.Output);
        Assert.Contains("it was stale, its lease ran out", unlock.Output);
        Assert.Contains("on machine-a", unlock.Output);
        var resumed = site.On("machine-b", null, "resume");
        Assert.True(resumed.ExitCode == 0, resumed.Output);

        var id = Assert.Single(site.Store.Runs());
        var journal = site.Store.ReadJournal(id);
        await site.AssertOneCompleteFailoverAsync(journal);
        Assert.Equal("machine-a", (string?)journal.First(r => r.Event == JournalEvent.RunStarted).Data!["host"]);
        Assert.Equal("machine-b", (string?)journal.Single(r => r.Event == JournalEvent.RunResumed).Data!["host"]);
        Assert.Null(site.Store.Current);
        Assert.False(site.Store.LockTaken);

        // The report is in the bucket, for the operator who did not run it.
        Assert.Contains("**Resolved.**", System.Text.Encoding.UTF8.GetString(site.Store.State.Read($"runs/{id}/report.md")!.Content));
    }

    [Fact]
    public async Task A_rehearsal_kept_running_on_one_machine_is_reported_counted_and_torn_down_from_another()
    {
        await site.ResetAsync();
        var rehearsal = site.On("machine-a", null, "rehearse", "--site", "local-standby", "--yes", "--keep");
        Assert.True(rehearsal.ExitCode == 0, rehearsal.Output);
        var id = Assert.Single(site.Store.Runs());
        foreach (var file in new[] { "rehearsal.json", "report.md", "report.json", "report.html" })
            Assert.True(site.Store.State.Read($"runs/{id}/{file}") is not null, $"runs/{id}/{file} is not in the shared store");
        site.ForgetLocalCopies(); // machine-b has none of machine-a's run files

        var report = site.On("machine-b", null, "report", "--run", id);
        Assert.True(report.ExitCode == 0, report.Output);
        Assert.Contains("**Rehearsal passed.**", report.Output);
        Assert.Contains($"Run `{id}`, started", report.Output);
        Assert.Contains("on machine-a", report.Output);
        var history = site.On("machine-b", null, "report", "--history");
        Assert.Contains(id, history.Output);
        Assert.Contains($"runs/{id}/report.html", history.Output);
        Assert.Contains($"last successful rehearsal {id} on local-standby", site.On("machine-b", null, "status").Output);

        // The kept copy's address and standby come from the shared rehearsal.json: machine-b can remove it.
        var teardown = site.On("machine-b", null, "rehearse", "--teardown");
        Assert.True(teardown.ExitCode == 0, teardown.Output);
        Assert.Contains($"Rehearsal {id}: copy local-standby-rehearsal removed.", teardown.Output);
        var journal = site.Store.ReadJournal(id);
        Assert.Single(journal, r => r.Event == JournalEvent.StepCompleted && r.Step == StepContext.Name(Core.Planning.StepKind.Teardown));
    }
}
