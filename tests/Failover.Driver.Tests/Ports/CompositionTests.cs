using System.Collections.Concurrent;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Engine;
using Failover.Driver.Runbooks;
using Failover.Driver.Tests.Pulumi;

namespace Failover.Driver.Tests.Ports;

/// <summary>
/// The composition root is asynchronous end to end: building a cloud run's ports and the first read that needs a provider's
/// answer (the vault stack's outputs, through the stand-in `pulumi`) never block a thread on it. Run on one thread that
/// also has to carry every continuation: a caller that waits on a pulumi read by blocking (GetAwaiter().GetResult()) stalls
/// that thread, the read's continuation never runs, and the test fails on its time limit instead of hanging the suite.
/// </summary>
public sealed class CompositionTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly StandIn _pulumi = new();
    private readonly string _state = Directory.CreateTempSubdirectory("failover-compose-").FullName;

    private RunEnvironment Environment(Topology topology, StackSpec target) =>
        new(topology, target, new RunStore(_state), _pulumi.ProjectDirectory, _pulumi.Secrets, _pulumi.Log, _pulumi.Clock, _ => { },
            _ => null, _pulumi.Environment());

    [Fact]
    public async Task A_cloud_run_builds_its_ports_and_reads_its_vault_stack_without_blocking_a_thread()
    {
        var topology = TopologyLoader.Load(Path.Combine(Repo.Root, "infra", "stacks"));
        _pulumi.Script(new { outputs = new Dictionary<string, object> { ["vault-aws-par"] = new { region = "eu-west-3" } } });
        await _pulumi.Cli().SelectOrCreateStackAsync("vault-aws-par");
        var env = Environment(topology, topology.Find("standby-hel1")!);

        var refusal = await OnOneThread(async () =>
        {
            var ports = await new Deferred<RunPorts>(x => RunPortsFactory.CreateAsync(env, x)).Role(p => p.ForFailover()).GetAsync(CancellationToken.None);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ports.Vault.SnapshotsAsync(topology.Tenants[0], CancellationToken.None));
            return e.Message;
        });

        // The vault stack's outputs were read (the stand-in answered) and found lacking: the run names the vault and the output.
        Assert.NotEmpty(_pulumi.Calls("stack output"));
        Assert.Contains("vault-aws-par", refusal);
        Assert.Contains("has no output", refusal);
    }

    [Fact]
    public async Task Ports_built_on_first_use_are_built_once_and_a_failed_build_is_tried_again()
    {
        var builds = 0;
        var ports = new Deferred<string>(async x =>
        {
            await Task.Yield(); // completes only asynchronously, on the one thread
            return ++builds == 1 ? throw new InvalidOperationException("provider down") : "ports";
        });
        var roles = await OnOneThread(async () =>
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => ports.Role(p => p.Length).GetAsync(CancellationToken.None));
            return $"{await ports.GetAsync(CancellationToken.None)} {await ports.Role(p => p.Length).GetAsync(CancellationToken.None)}";
        });
        Assert.Equal("ports 5", roles);
        Assert.Equal(2, builds);
    }

    [Fact]
    public async Task A_dry_run_s_ports_refuse_to_be_built_naming_why()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Deferred<FailoverPorts>.Refused("a dry run touches no provider").Role(p => p.Dns).GetAsync(CancellationToken.None));
        Assert.Equal("a dry run touches no provider", e.Message);
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own that carries all its continuations; fails when it stalls.</summary>
    private static async Task<T> OnOneThread<T>(Func<Task<T>> body)
    {
        var context = new OneThread();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(context);
            context.Post(async _ =>
            {
                try { done.SetResult(await body()); }
                catch (Exception e) { done.SetException(e); }
            }, null);
            context.Pump(done.Task);
        }) { IsBackground = true, Name = "composition-one-thread" };
        thread.Start();
        if (await Task.WhenAny(done.Task, Task.Delay(Limit)) != done.Task)
            Assert.Fail($"the composition stalled its only thread for {Limit.TotalSeconds:0} s: something blocks on a task instead of awaiting it");
        return await done.Task;
    }

    /// <summary>A synchronization context with one thread: what is posted runs there, in order.</summary>
    private sealed class OneThread : SynchronizationContext
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = new();

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));
        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException();

        public void Pump(Task until)
        {
            while (!until.IsCompleted)
                if (_queue.TryTake(out var work, TimeSpan.FromMilliseconds(50))) work.Callback(work.State);
        }
    }

    public void Dispose()
    {
        _pulumi.Dispose();
        try { Directory.Delete(_state, recursive: true); } catch (IOException) { }
    }
}
