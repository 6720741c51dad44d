using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Failover.Driver.Backup;
using Failover.Driver.Local;
using Failover.Driver.Logging;
using Npgsql;
using Serilog;

namespace Failover.Benchmarks;

/// <summary>
/// A throwaway site for one benchmark: a PostgreSQL cluster on its own loopback address and free port,
/// and a restic repository, in one temporary folder that is removed (cluster stopped) on dispose.
/// </summary>
public sealed class ScratchSite : IAsyncDisposable
{
    private readonly PostgresCluster _cluster;

    private ScratchSite(string root, PostgresCluster cluster, ResticSettings vault)
    {
        Root = root;
        _cluster = cluster;
        Vault = vault;
        Repository = new ResticRepository(vault, Secrets, Log);
        Postgres = new PostgresTools(PostgresCluster.BinDirectory);
    }

    public string Root { get; }
    public string Address => _cluster.Address;
    public int Port => _cluster.Port;
    public ResticSettings Vault { get; }
    public SecretRegistry Secrets { get; } = new();
    /// <summary>Silent: the benchmark prints its own table, and logging would be part of what is timed.</summary>
    public ILogger Log { get; } = new LoggerConfiguration().CreateLogger();
    public ResticRepository Repository { get; }
    /// <summary>The server's own major version of pg_restore for both sides, not Debian's pg_wrapper script.</summary>
    public PostgresTools Postgres { get; }

    public static async Task<ScratchSite> StartAsync(string address, CancellationToken cancellation)
    {
        var root = Directory.CreateTempSubdirectory("failover-bench-").FullName;
        // PostgreSQL runs as the postgres user and must reach its data directory inside our folder.
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var cluster = new PostgresCluster(Path.Combine(root, "pg", "data"), address, FreePort(address));
        var vault = new ResticSettings(Path.Combine(root, "vault"), Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)));
        var site = new ScratchSite(root, cluster, vault);
        try
        {
            await cluster.InitAsync(cancellation);
            await cluster.StartAsync(cancellation);
            await site.Repository.InitAsync(cancellation);
            return site;
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }
    }

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>
    /// The same vault read through a rate-limited link: each restic process downloads at most
    /// <paramref name="kibPerSecond"/>, like one stream from a remote bucket.
    /// </summary>
    public ResticRepository RepositoryBehindLink(int kibPerSecond)
    {
        var script = PathOf($"restic-link-{kibPerSecond}");
        File.WriteAllText(script, $"#!/bin/sh\nexec restic --limit-download {kibPerSecond} \"$@\"\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        return new ResticRepository(Vault with { Executable = script }, Secrets, Log);
    }

    /// <summary>A database on this site as the restore and backup code reach it (trust auth on loopback).</summary>
    public PostgresDatabase Database(string name) => new(Address, Port, name, "postgres", null);

    public string ConnectionString(string database) => TenantSeed.ConnectionString(Address, Port, database);

    public async Task ExecuteAsync(string sql, CancellationToken cancellation, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync(cancellation);
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync(cancellation);
    }

    public async Task<T> ScalarAsync<T>(string sql, CancellationToken cancellation, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync(cancellation);
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        return (T)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>Removes a restored copy (database and files) so the next round starts from nothing.</summary>
    public async Task DropAsync(string database, string filesDirectory, CancellationToken cancellation)
    {
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", cancellation);
        if (Directory.Exists(filesDirectory)) Directory.Delete(filesDirectory, recursive: true);
    }

    /// <summary>The environment restic needs for a command typed by hand against this site's vault.</summary>
    public ProcessStartInfo Restic(params string[] arguments)
    {
        var psi = new ProcessStartInfo("restic", arguments);
        psi.Environment["RESTIC_REPOSITORY"] = Vault.Repository;
        psi.Environment["RESTIC_PASSWORD"] = Vault.Password;
        return psi;
    }

    /// <summary>A PostgreSQL client tool of the server's version, connected to this site.</summary>
    public ProcessStartInfo PostgresTool(string tool, params string[] arguments)
    {
        var psi = new ProcessStartInfo(Path.Combine(PostgresCluster.BinDirectory, tool), arguments);
        psi.Environment["PGHOST"] = Address;
        psi.Environment["PGPORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["PGUSER"] = "postgres";
        return psi;
    }

    /// <summary>Runs a program to completion; its output is drained (and kept only for the error message).</summary>
    public static async Task RunAsync(ProcessStartInfo psi, CancellationToken cancellation)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, cancellation);
        var stderr = process.StandardError.ReadToEndAsync(cancellation);
        await process.WaitForExitAsync(cancellation);
        await stdout;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(psi.FileName)} {string.Join(' ', psi.ArgumentList)} failed ({process.ExitCode}): {(await stderr).Trim()}");
    }

    public async ValueTask DisposeAsync()
    {
        try { await _cluster.StopAsync(CancellationToken.None); }
        catch (InvalidOperationException) { _cluster.Kill(); }
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    private static int FreePort(string address)
    {
        using var listener = new TcpListener(IPAddress.Parse(address), 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
