using System.Diagnostics;
using Failover.Core.Topology;
using Failover.Driver.Emulation;
using Failover.Driver.Engine;
using Serilog;

namespace Failover.Driver.Cli;

/// <summary>
/// `failover drill --stacks infra/stacks`: the cloud path on this machine. The `pulumi` it runs is the emulator
/// (`failover pulumi-emulator`), whose `up` boots every server Core plans as a container from exactly its rendered
/// user data (docs/server-emulation.md). Production boots, is seeded and backed up into the vault, is lost (its
/// containers killed); `failover run` provisions the standby through the emulator, whose cloud-init restores every
/// tenant; DNS moves on a real PowerDNS standing in for the DNS stack's provider; rows are checked; all is removed.
/// </summary>
internal static class CloudDrill
{
    public static async Task<int> RunAsync(App app, Topology shipped, ILogger log, double scale, bool keep, bool cleanOnly, string stateRoot, CancellationToken ct)
    {
        void Say(string line) => app.Print(line + "\n");
        var home = Path.Combine(stateRoot, "cloud-drill");
        if (cleanOnly) { await CloudWorld.RemoveAsync(home, log); Say("Cloud drill leftovers removed."); return ExitCodes.Ok; }

        var clock = Stopwatch.StartNew();
        Say("[1/8] checking what the drill needs: Debian packages, the cached Debian root the servers boot from");
        await CloudWorld.EnsurePrerequisitesAsync(app.Variable, log, Say, ct);
        var store = new RunStore(Path.Combine(stateRoot, "cloud-runs"));
        var variable = app.Variable;
        var savedEnvironment = app.PulumiEnvironment;
        var savedOptions = app.Options;
        var succeeded = false;
        CloudWorld? world = null;
        try
        {
            world = await CloudWorld.StartAsync(shipped, home, app.Secrets, variable, app.Time, scale, log, Say, "8", ct);
            app.Variable = world.Variable;
            app.PulumiEnvironment = world.PulumiEnvironment;
            app.Options = CloudWorld.Options;
            var topology = world.Topology;
            var standby = topology.Standbys.FirstOrDefault(s => s.Site.Provider == Provider.Hetzner)
                ?? topology.Standbys.FirstOrDefault(s => s.Site.Provider == Provider.Aws)
                ?? throw new UsageException("the cloud drill needs a Hetzner or AWS standby stack");
            var code = await FailOverAsync(app, world, standby, store, log, ct);
            succeeded = code == ExitCodes.Ok;
            Say(succeeded ? $"Cloud drill passed in {Durations.Format(clock.Elapsed)}: every tenant verified, DNS moved." : "Cloud drill FAILED: see the lines above.");
            return code;
        }
        catch (ServerBootException e)
        {
            app.Error($"error: server {e.Server} did not come up: {e.Line}");
            return ExitCodes.Failed;
        }
        finally
        {
            app.PulumiEnvironment = savedEnvironment;
            app.Options = savedOptions;
            app.Variable = variable;
            if (keep)
                Say($"Kept for inspection: the servers in {Path.Combine(home, "emulation")} (cloud.json names them; {Path.Combine(home, "ssh")} SERVER COMMAND enters one), " +
                    $"PowerDNS on {world?.DnsAddress ?? CloudWorld.DefaultDnsAddress}:{CloudWorld.DnsPort}. Remove them with `failover drill --stacks {shipped.StacksDirectory} --clean`.");
            else
            {
                if (world is not null) await world.DisposeAsync();
                else await CloudWorld.RemoveAsync(home, log);
                Say(succeeded ? $"Cleaned up: no server, container, mount or address of the drill is left (reports stay in {store.Root})." : "Cleaned up.");
            }
        }
    }

    /// <summary>
    /// `failover drill --stacks infra/stacks --prepare`: only the drill's step 1, the Debian packages and the cached root
    /// (built once, minutes on a fresh machine), so a test run can start it early beside work that does not boot servers.
    /// </summary>
    public static async Task<int> PrepareAsync(App app, ILogger log, CancellationToken ct)
    {
        void Say(string line) => app.Print(line + "\n");
        var clock = Stopwatch.StartNew();
        Say("checking what the cloud drill needs: Debian packages, the cached Debian root the servers boot from");
        await CloudWorld.EnsurePrerequisitesAsync(app.Variable, log, Say, ct);
        Say($"Cloud drill prepared in {Durations.Format(clock.Elapsed)}.");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Steps 6 to 8 of the drill on a world that serves: production lost (its containers killed), `failover run` to
    /// <paramref name="standby"/> (its servers watched as they boot, a failed bootstrap named with its line), then DNS and
    /// every tenant's rows checked. <paramref name="app"/> runs in the world (its <see cref="CloudWorld.Variable"/> and
    /// <see cref="CloudWorld.PulumiEnvironment"/>). Returns the exit code: Ok only when the run passed and all matched.
    /// </summary>
    internal static async Task<int> FailOverAsync(App app, CloudWorld world, StackSpec standby, RunStore store, ILogger log, CancellationToken ct)
    {
        void Say(string line) => app.Print(line + "\n");
        var topology = world.Topology;
        var prod = topology.Production;
        Say($"[6/8] losing production: killing the containers of {prod.Name}");
        await world.LoseAsync(prod.Name, ct);

        Say($"[7/8] failing over to {standby.Name}: `failover run`, its servers booted by the emulated `pulumi up`");
        // Stamped like any run's: the operator's identity and the runbook's estimate per step, for the report.
        var run = RunCommands.Stamp(app, topology, standby, new RunContext(RunStore.NewRunId(app.Time.GetUtcNow()), RunKind.Failover, prod.Name, standby.Name, null, false,
            Environment.UserName, OperatorHost.Name));
        var code = await world.WatchedAsync(standby.Name, token => RunCommands.Execute(app, topology, standby, store, run, log, token), ct);
        if (code != ExitCodes.Ok)
        {
            // The run says which step failed; the server says why (a bootstrap that failed after the run gave up waiting).
            foreach (var e in await world.BootFailuresAsync(standby.Name, ct)) app.Error($"error: server {e.Server} did not come up: {e.Line}");
            return code;
        }

        Say("[8/8] verifying: DNS answer, and every tenant's rows on the standby");
        return await world.VerifyAsync(world.Topology.Find(standby.Name)! with { Mode = SiteMode.Mvd }, ct) ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
