using Failover.Driver.Backup;
using Failover.Driver.Logging;
using Serilog.Core;
using Failover.Driver.Tests.Support;

namespace Failover.Driver.Tests.Backup;

/// <summary>A clock the test moves by hand, for backup ages against the RPO.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>
/// A temp restic repository (initialised by real restic, deleted at the end) with the driver's backup
/// pieces wired to it and a log an operator would read (captured, through the redacting sink).
/// </summary>
public sealed class TestVault : IAsyncDisposable
{
    private readonly string _dir;

    private TestVault(PostgresCluster cluster)
    {
        _dir = Directory.CreateTempSubdirectory("failover-vault-").FullName;
        Settings = new ResticSettings(Path.Combine(_dir, "repo"), "restic-" + Guid.NewGuid().ToString("N"));
        Logger = LogSetup.Create(Secrets, null, verbose: true, console: LogText);
        Repository = new ResticRepository(Settings, Secrets, Logger);
        Postgres = new PostgresTools(cluster.BinDirectory);
    }

    public static async Task<TestVault> CreateAsync(PostgresCluster cluster)
    {
        var vault = new TestVault(cluster);
        await vault.Repository.InitAsync(CancellationToken.None);
        return vault;
    }

    public ResticSettings Settings { get; }
    public SecretRegistry Secrets { get; } = new();
    public StringWriter LogText { get; } = new();
    public Logger Logger { get; }
    public ResticRepository Repository { get; }
    public PostgresTools Postgres { get; }
    public ManualClock Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>A scratch directory inside the vault's temp dir, deleted with it.</summary>
    public string Scratch(string name) => Path.Combine(_dir, "scratch", name);

    public string DataDirectory => Path.Combine(Settings.Repository, "data");

    public TenantBackup Backup() => new(Repository, Postgres, Secrets, Clock, Logger);
    public BackupCatalog Catalog() => new(Repository, Clock, Logger, readDataSubset: "100%");
    public TenantRestore Restore() => new(Repository, Postgres, new RestoreHooks(Secrets), Secrets, Logger);

    public ValueTask DisposeAsync()
    {
        Logger.Dispose();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }
}
