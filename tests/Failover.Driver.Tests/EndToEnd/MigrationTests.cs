using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Failover.Core.Topology;
using Failover.Driver.Composition;
using Failover.Driver.Cli;
using Failover.Driver.Dns;
using Failover.Driver.Engine;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Failover.Driver.Runbooks;
using Npgsql;
using Serilog;

namespace Failover.Driver.Tests.EndToEnd;

/// <summary>
/// The local topology on 127.0.0.71-74 with production serving (not lost): the state before a planned migration.
/// Reset puts back the original stack files, production up and taking writes, no standby, DNS at production.
/// </summary>
public sealed class MigrationTopology() : LocalTopology(70)
{
    private readonly Dictionary<string, string> _files = new();

    public StackSpec ProdStack => Topology.Production;
    public StackSpec StandbyStack => Topology.Find("local-standby")!;

    /// <param name="ttl">The zone's TTL in the stack file (the old TTL a migration lowers).</param>
    public async Task ResetAsync(int ttl)
    {
        if (_files.Count == 0)
            foreach (var f in Directory.GetFiles(Project, "Pulumi.*.yaml")) _files[f] = File.ReadAllText(f);
        foreach (var (f, text) in _files) File.WriteAllText(f, f.EndsWith("local-dns.yaml", StringComparison.Ordinal) ? text.Replace("ttl: 60", $"ttl: {ttl}") : text);
        foreach (var f in Directory.GetFiles(Project, "*.failover-new")) File.Delete(f);
        await ResetAsync();
        await Sites.ProvisionAsync(ProdStack, [], CancellationToken.None);
        // A test that failed half-way may have left production without a tenant's database: seed it again.
        var cluster = Sites.Cluster(ProdStack);
        foreach (var t in Topology.Tenants)
            try { await Sql(ProdAddress, t.Name, "SELECT 1"); }
            catch (PostgresException e) when (e.SqlState == "3D000")
            {
                await TenantSeed.SeedAsync(t, cluster.Address, cluster.Port, Sites.FilesDirectory(ProdStack, t.Name), 0.002, CancellationToken.None);
            }
        await Sql(ProdAddress, "postgres", string.Concat(Topology.Tenants.Select(t => $"ALTER DATABASE \"{t.Name}\" RESET default_transaction_read_only;")));
        var dns = Topology.DnsStack!.Dns! with { TtlSeconds = ttl };
        using var cutover = PowerDnsCutover.For(dns, ApiKey, new SecretRegistry(), Log.Logger);
        await cutover.PointAsync(dns.Zone, ServiceRecords.PointingAt(dns, [IPAddress.Parse(ProdAddress)]), CancellationToken.None);
    }

    public void Edit(string stack, Func<string, string> change)
    {
        var file = Path.Combine(Project, $"Pulumi.{stack}.yaml");
        File.WriteAllText(file, change(File.ReadAllText(file)));
    }

    public async Task<uint> DnsTtlAsync()
    {
        var r = await new WireDnsClient().QueryAsync(new IPEndPoint(IPAddress.Parse(DnsHost), DnsPort), "app.drill.test", RecordType.A, CancellationToken.None);
        return r.Answers.Single(a => a.Type == (ushort)RecordType.A).Ttl;
    }

    public static async Task Sql(string host, string database, string sql)
    {
        await using var c = new NpgsqlConnection(TenantSeed.ConnectionString(host, 5432, database));
        await c.OpenAsync();
        await using var command = new NpgsqlCommand(sql, c);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<List<long>> Ids(string host, string table)
    {
        await using var c = new NpgsqlConnection(TenantSeed.ConnectionString(host, 5432, "northwind"));
        await c.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT id FROM {table} ORDER BY id", c);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync()) ids.Add(reader.GetInt64(0));
        return ids;
    }

    /// <summary>The `failover` command in this process, with a clock of its own (the TTL wait is passed by moving it).</summary>
    internal CliRun InProcess(TimeProvider clock, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Project, logConsole: stderr) { Time = clock, Input = null };
        app.Variable = name => name == RunPortsFactory.DnsApiKeyVariable ? ApiKey : Environment.GetEnvironmentVariable(name);
        return new CliRun(app.Run(args), stdout.ToString(), stderr.ToString());
    }
}

/// <summary>The system clock moved by a fixed offset: timers run in real time, "now" is later.</summary>
internal sealed class OffsetClock(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

/// <summary>
/// `failover migrate` against real PostgreSQL, restic and PowerDNS: no committed row lost while writes run until the
/// freeze, the TTL phase, the way back after a failover, and production serving again after an interruption.
/// </summary>
public class MigrationTests(MigrationTopology site) : IClassFixture<MigrationTopology>
{
    public const string Alone = "migration tests, alone";

    [Fact]
    public async Task A_migration_with_writes_until_the_freeze_loses_no_committed_row_and_waits_for_the_old_ttl_first()
    {
        await site.ResetAsync(ttl: 300);
        await MigrationTopology.Sql(site.ProdAddress, "northwind", "DROP TABLE IF EXISTS migration_probe; CREATE TABLE migration_probe (id bigint PRIMARY KEY)");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var writer = Task.Run(() => WriteUntilFrozenAsync(site.ProdAddress, stop.Token));

        // Phase 1: the TTL is lowered, and the command stops until the old TTL (300 s) has passed.
        var first = site.InProcess(TimeProvider.System, "migrate", "--to", "local-standby", "--yes");
        Assert.True(first.ExitCode == ExitCodes.Waiting, first.Stdout + first.Stderr);
        Assert.Contains("Source: local-prod, the production stack", first.Stdout);
        Assert.Contains("again after", first.Stderr);
        Assert.Equal(60u, await site.DnsTtlAsync());
        Assert.Equal([site.ProdAddress], await site.DnsAnswerAsync());
        var id = Assert.Single(site.Store.Runs());
        var lowered = Journal.Read(site.Store.JournalPath(id)).Single(r => r.Event == JournalEvent.EffectDone && r.Effect == "ttl:lower");
        Assert.Equal(300, (int)lowered.Data!["result"]!["oldTtl"]!);
        Assert.False(writer.IsCompleted, "production kept taking writes during the TTL wait");

        // Phase 2, "301 s later": the same command continues the same run up to the cutover.
        var later = new OffsetClock(TimeSpan.FromSeconds(301));
        var second = site.InProcess(later, "migrate", "--to", "local-standby", "--yes");
        Assert.True(second.ExitCode == ExitCodes.AwaitingConfirmation, second.Stdout + second.Stderr);
        Assert.Equal(id, Assert.Single(site.Store.Runs()));
        Assert.Contains("TTL lowered from 300s to 60s", second.Stdout);
        Assert.Single(Journal.Read(site.Store.JournalPath(id)), r => r.Event == JournalEvent.EffectDone && r.Effect == "ttl:lower");

        var (committed, rejected) = await writer;
        Assert.True(rejected, "the writer never saw the freeze refuse a write");
        Assert.NotEmpty(committed);
        var onTarget = await MigrationTopology.Ids(site.StandbyAddress, "migration_probe");
        Assert.Empty(committed.Except(onTarget));
        Assert.Equal([site.StandbyAddress], await site.DnsAnswerAsync());
        Assert.Equal(60u, await site.DnsTtlAsync());
        Assert.Equal("local-standby", TopologyLoader.Load(site.Project).Production.Name);
        Assert.Equal(SiteMode.Fenced, TopologyLoader.Load(site.Project).Find("local-prod")!.Mode);
        Assert.Contains("+  failover:role: production", second.Stdout);

        var dir = site.Store.RunDirectory(id);
        var md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("of downtime** customers saw", md);
        Assert.Contains("RPO 0", md);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "report.json")))!;
        Assert.True((double)json["freezeWindowSeconds"]! > 0);
        Assert.Equal(0, (double)json["rpoSeconds"]!);

        // Phase 3: the operator confirms; the old site is scaled down (data kept), the TTL raised back.
        var third = site.InProcess(later, "migrate", "--to", "local-standby", "--confirm");
        Assert.True(third.ExitCode == ExitCodes.Ok, third.Stdout + third.Stderr);
        Assert.False(await site.Sites.IsServingAsync(site.ProdStack, CancellationToken.None));
        Assert.True(site.Sites.Cluster(site.ProdStack).IsInitialised, "the old site's data is kept");
        Assert.Equal(300u, await site.DnsTtlAsync());
        Assert.Null(site.Store.Current);
    }

    [Fact]
    public async Task A_failback_after_a_failover_returns_service_and_the_standbys_new_rows_to_the_original_site()
    {
        await site.ResetAsync(ttl: 60);
        var failover = site.Failover(null, "run", "--to", "local-standby", "--yes");
        Assert.True(failover.ExitCode == 0, failover.Output);
        await MigrationTopology.Sql(site.StandbyAddress, "northwind",
            "CREATE TABLE written_after_failover (id bigint PRIMARY KEY); INSERT INTO written_after_failover SELECT generate_series(1, 100)");

        var back = site.Failover(null, "migrate", "--to", "local-prod", "--yes");
        Assert.True(back.ExitCode == ExitCodes.AwaitingConfirmation, back.Output);
        Assert.Contains("Source: local-standby, where failover", back.Output);
        Assert.Contains("the stack files already name local-prod production", back.Output);
        Assert.Equal([site.ProdAddress], await site.DnsAnswerAsync());
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), await MigrationTopology.Ids(site.ProdAddress, "written_after_failover"));
        Assert.False(await site.Sites.IsServingAsync(site.StandbyStack, CancellationToken.None), "the standby is fenced after the way back");

        var confirmed = site.Failover(null, "migrate", "--to", "local-prod", "--confirm");
        Assert.True(confirmed.ExitCode == 0, confirmed.Output);
        Assert.Contains("Migrated to local-prod", confirmed.Output);
    }

    /// <summary>
    /// A freeze command that plays the operator pressing Ctrl-C in the driver's terminal, once the databases are read-only.
    /// Hooks run under setsid/setpriv wrappers, so the driver is found among the hook's ancestors by its command line.
    /// </summary>
    private const string CtrlCHooks = "  failover:migrate:\n    freeze: [\"p=$PPID; while [ \\\"$p\\\" -gt 1 ] && ! grep -qa failover.dll /proc/$p/cmdline; " +
        "do p=$(cut -d' ' -f4 /proc/$p/stat); done; kill -INT $p; sleep 30\"]\n    thaw: [\"echo thawed\"]\n";

    [Fact]
    public async Task Ctrl_c_during_the_freeze_gives_production_its_writes_back_and_leaves_dns_alone()
    {
        await site.ResetAsync(ttl: 60);
        site.Edit("local-prod", t => t + CtrlCHooks);
        var run = site.Failover(null, "migrate", "--to", "local-standby", "--yes");
        Assert.True(run.ExitCode == ExitCodes.Interrupted, run.Output);
        Assert.Contains("local-prod was thawed and serves", run.Output);
        await AssertProductionServesAsync();
        var journal = Journal.Read(site.Store.JournalPath(Assert.Single(site.Store.Runs())));
        Assert.Single(journal, r => r.Event == JournalEvent.EffectDone && r.Effect == "thaw:local-prod");
        Assert.Contains(journal, r => r.Event == JournalEvent.CompensationCompleted);
        Assert.DoesNotContain(journal, r => r.Step == "cutover");
    }

    [Fact]
    public async Task A_migration_killed_during_its_thaw_finishes_the_thaw_on_the_next_run_before_it_freezes_and_syncs_again()
    {
        await site.ResetAsync(ttl: 60);
        string? original = null;
        site.Edit("local-prod", t => (original = t) + CtrlCHooks);
        // Ctrl-C during the freeze: the engine thaws production, and the process is killed once the thaw has run but
        // before the journal says so.
        var stopped = site.Failover("effect:thaw:local-prod:after", "migrate", "--to", "local-standby", "--yes");
        Assert.Contains("killed at effect:thaw:local-prod:after", stopped.Output);
        var id = Assert.Single(site.Store.Runs());
        Assert.DoesNotContain(Journal.Read(site.Store.JournalPath(id)), r => r.Event == JournalEvent.CompensationCompleted);
        // Production took writes again after the thaw: the next run must not count the earlier freeze as holding.
        await MigrationTopology.Sql(site.ProdAddress, "northwind", "DROP TABLE IF EXISTS after_killed_thaw; CREATE TABLE after_killed_thaw (id bigint PRIMARY KEY); INSERT INTO after_killed_thaw VALUES (7)");

        site.Edit("local-prod", _ => original!);
        Assert.Equal(0, site.Failover(null, "unlock").ExitCode);
        var next = site.Failover(null, "migrate", "--to", "local-standby", "--yes");
        Assert.True(next.ExitCode == ExitCodes.AwaitingConfirmation, next.Output);
        Assert.Contains("finishing the compensation", next.Output);
        var journal = Journal.Read(site.Store.JournalPath(id));
        var resumed = journal.FindLastIndex(r => r.Event == JournalEvent.RunResumed);
        var completed = journal.FindIndex(r => r.Event == JournalEvent.CompensationCompleted);
        Assert.True(completed > resumed, "the next run wrote the thaw's completion line");
        Assert.Contains(journal.Skip(resumed), r => r.Event == JournalEvent.EffectDone && r.Effect == "thaw:local-prod");
        Assert.Contains(journal.Skip(completed), r => r.Event == JournalEvent.EffectDone && r.Effect == "freeze:local-prod");
        Assert.Contains(journal.Skip(completed), r => r.Event == JournalEvent.StepCompleted && r.Step == "final-sync");
        Assert.Equal([7L], await MigrationTopology.Ids(site.StandbyAddress, "after_killed_thaw"));
        Assert.Equal([site.StandbyAddress], await site.DnsAnswerAsync());
    }

    [Fact]
    public async Task A_migration_killed_during_the_freeze_is_thawed_by_abort()
    {
        await site.ResetAsync(ttl: 60);
        var run = site.Failover("step:final-sync:before", "migrate", "--to", "local-standby", "--yes");
        Assert.Contains("killed at step:final-sync:before", run.Output);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => MigrationTopology.Sql(site.ProdAddress, "northwind", "CREATE TABLE refused (id int)"));
        Assert.Equal("25006", refused.SqlState); // the kill left production frozen: read-only

        Assert.Equal(ExitCodes.Locked, site.Failover(null, "abort").ExitCode); // the killed process's lock is stale
        Assert.Equal(0, site.Failover(null, "unlock").ExitCode);
        var abort = site.Failover(null, "abort");
        Assert.True(abort.ExitCode == 0, abort.Output);
        Assert.Contains("thawing it first", abort.Output);
        await AssertProductionServesAsync();
        Assert.Null(site.Store.Current);
    }

    private async Task AssertProductionServesAsync()
    {
        await MigrationTopology.Sql(site.ProdAddress, "northwind", "DROP TABLE IF EXISTS after_thaw; CREATE TABLE after_thaw (id int); INSERT INTO after_thaw VALUES (1)");
        Assert.Equal([site.ProdAddress], await site.DnsAnswerAsync());
    }

    /// <summary>Inserts rows one by one, each committed on its own, until production refuses a write as read-only.</summary>
    private static async Task<(List<long> Committed, bool Rejected)> WriteUntilFrozenAsync(string host, CancellationToken stop)
    {
        var committed = new List<long>();
        long next = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var c = new NpgsqlConnection(TenantSeed.ConnectionString(host, 5432, "northwind"));
                await c.OpenAsync(stop);
                while (!stop.IsCancellationRequested)
                {
                    await using var insert = new NpgsqlCommand("INSERT INTO migration_probe VALUES (@id)", c);
                    insert.Parameters.AddWithValue("id", ++next);
                    await insert.ExecuteNonQueryAsync(stop);
                    committed.Add(next);
                    await Task.Delay(20, stop);
                }
            }
            catch (PostgresException e) when (e.SqlState == "25006") { return (committed, true); }
            catch (Exception e) when (e is NpgsqlException or IOException) { await Task.Delay(100, CancellationToken.None); }
            catch (OperationCanceledException) { break; }
        }
        return (committed, false);
    }
}
