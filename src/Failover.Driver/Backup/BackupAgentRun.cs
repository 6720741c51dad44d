using System.Globalization;
using System.Text.Json;
using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Driver.Engine;
using Failover.Driver.Logging;
using Failover.Driver.Reports;
using Serilog;

namespace Failover.Driver.Backup;

/// <summary>What the agent reported for one tenant: backed up into every vault, or why not (the last failure named).</summary>
public sealed record AgentTenantResult(string Tenant, bool Succeeded, TimeSpan Duration, long Bytes, string? Error);

/// <summary>One run of the agent: its id, exit code, each tenant's result, the heartbeat it left and what it logged.</summary>
public sealed record AgentRunResult(string RunId, int ExitCode, IReadOnlyList<AgentTenantResult> Tenants, BackupHeartbeat? Heartbeat, string Log)
{
    /// <summary>Another run held the lock: this one did nothing.</summary>
    public bool Refused => ExitCode == BackupPlan.RefusedExitCode;
}

/// <summary>
/// Runs the agent Core renders (<see cref="BackupAgent.Script"/>, the very script a cloud data server's timer runs) on this
/// machine, for the local provider and the tests: the plan as its configuration file, a vault credentials file per vault.
/// </summary>
public sealed class BackupAgentRun(SecretRegistry secrets, ILogger log)
{
    /// <summary>
    /// Writes the script and <paramref name="plan"/>'s configuration into <paramref name="directory"/> (root-only) and runs it
    /// with <paramref name="environment"/> (the libpq variables when the plan has no PostgreSQL user).
    /// </summary>
    public async Task<AgentRunResult> RunAsync(BackupPlan plan, string directory, IReadOnlyDictionary<string, string?> environment, string? runId,
        CancellationToken cancellation)
    {
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = Path.Combine(directory, "failover-backup");
        var config = Path.Combine(directory, "backup.conf");
        await File.WriteAllTextAsync(script, BackupAgent.Script(), cancellation);
        await File.WriteAllTextAsync(config, BackupAgent.RenderConfig(plan), cancellation);
        runId ??= TenantBackup.NewRunId(TimeProvider.System);
        var env = new Dictionary<string, string?>(environment)
        {
            [BackupAgent.ConfigVariable] = config,
            [BackupAgent.RunIdVariable] = runId,
            // Not under systemd here: plain log lines, without the journal's priority prefix.
            ["INVOCATION_ID"] = null,
        };
        log.Information("Backup agent run {RunId} of {Site}: {Tenants} tenants into {Vaults}", runId, plan.Site, plan.Tenants.Count, string.Join(", ", plan.Vaults.Select(v => v.Vault)));
        var result = await ChildProcess.RunAsync(new ProgramCall("bash", [script], env), cancellation);
        var tenants = Parse(result.StandardOutput).Select(t => t.Succeeded ? t : t with { Error = TenantFailure(plan.Site, t.Tenant, result.ExitCode, t.Error ?? "").Message }).ToList();
        foreach (var line in result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            log.Information("{AgentLine}", secrets.Redact(line));
        var heartbeatFile = Path.Combine(plan.StateDirectory, BackupPlan.HeartbeatFileName);
        var heartbeat = result.ExitCode == BackupPlan.RefusedExitCode || !File.Exists(heartbeatFile) ? null
            : BackupHeartbeatJson.Parse(await File.ReadAllTextAsync(heartbeatFile, cancellation));
        return new AgentRunResult(runId, result.ExitCode, tenants, heartbeat?.RunId == runId ? heartbeat : null, secrets.Redact(result.StandardError));
    }

    /// <summary>
    /// A tenant the agent could not back up, worded as every tool's failure: the agent's reason for it (the dump, the
    /// files or a vault, with that tool's error line) and what to do.
    /// </summary>
    private ToolFailure TenantFailure(string site, string tenant, int exitCode, string reason) =>
        ToolFailure.Exited(Path.GetFileName(BackupAgent.ScriptPath), $"backing up tenant {tenant} of {site}", exitCode, reason,
            $"Its log names every failure of the run (journalctl -u {BackupAgent.Service} on a server, the output of `failover backup` here): fix the cause and back up again", secrets);

    /// <summary>The agent's result lines: tenant, ok|FAILED, seconds, bytes, reason (tab-separated).</summary>
    public static IReadOnlyList<AgentTenantResult> Parse(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .Where(f => f.Length >= 5)
            .Select(f => new AgentTenantResult(f[0], f[1] == BackupAgent.ResultOk,
                TimeSpan.FromSeconds(long.Parse(f[2], CultureInfo.InvariantCulture)), long.Parse(f[3], CultureInfo.InvariantCulture),
                f[1] == BackupAgent.ResultOk ? null : string.Join('\t', f[4..])))
            .ToList();

    /// <summary>A vault's credentials file as the agent reads it (restic's variables), root-only.</summary>
    public static async Task WriteCredentialsAsync(string path, ResticSettings vault, CancellationToken cancellation)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "", cancellation);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(path, $"RESTIC_REPOSITORY={Sh.Quote(vault.Repository)}\nRESTIC_PASSWORD={Sh.Quote(vault.Password)}\n", cancellation);
    }
}

/// <summary>The heartbeat as the agent writes it (camelCase JSON).</summary>
public static class BackupHeartbeatJson
{
    public static BackupHeartbeat Parse(string json) =>
        JsonSerializer.Deserialize<BackupHeartbeat>(json, Json.Options) ?? throw new InvalidDataException("the heartbeat is empty");
}
