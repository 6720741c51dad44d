using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Failover.Core.Sites;

/// <summary>What a restoring server needs to read the vault; ToString never shows the values.</summary>
public sealed record ResticCredentials(string Repository, string Password, string AccessKeyId, string SecretAccessKey)
{
    public override string ToString() => $"restic credentials for {Repository}";
}

/// <summary>One vault's write-only credentials, for the backup agent (production's append-only key on S3).</summary>
public sealed record VaultWriter(string Vault, ResticCredentials Credentials);

/// <summary>
/// The cloud-config document a server boots with: the metadata guard (bootcmd, before anything else runs), SSH
/// keys, the bootstrap script, the health handler and unit and, on a restoring server, the root-only credentials
/// file. infra/ builds it inside an Output apply from secret inputs, so the document itself stays a Pulumi secret;
/// <see cref="ServerUserData"/> gzips it for the provider.
/// </summary>
public static class CloudConfig
{
    /// <param name="writers">Each vault's write credentials for the backup agent, when <paramref name="boot"/> installs one.</param>
    /// <param name="controlKey">The site's control key (<see cref="BackupControl"/>): required when <paramref name="boot"/> installs an agent;
    /// without one the server takes no control request and a restore point goes into the script.</param>
    public static string Render(ServerBootstrap boot, ResticCredentials? credentials, IReadOnlyList<VaultWriter>? writers = null, string? controlKey = null)
    {
        if (boot.Restore is not null && credentials is null)
            throw new ArgumentException($"{boot.Server} restores tenants and needs the vault's credentials", nameof(credentials));
        var s = new StringBuilder("#cloud-config\n");
        // bootcmd runs on every boot, before write_files and runcmd: the guard is up before the bootstrap starts.
        s.Append("bootcmd:\n  - ").Append(YamlQuote(
            "command -v nft > /dev/null && " + string.Join(" && ", BootstrapScript.MetadataGuard.Select(r => "nft " + Sh.Quote(r))) + " || true")).Append('\n');
        if (boot.SshPublicKeys.Count > 0)
        {
            s.Append("ssh_authorized_keys:\n");
            foreach (var key in boot.SshPublicKeys) s.Append("  - ").Append(YamlQuote(key)).Append('\n');
        }
        s.Append("write_files:\n");
        // Without a key nothing can take the restore point by request: its records go into the script.
        if (string.IsNullOrEmpty(controlKey)) boot = boot with { RestorePointByRequest = false };
        var actions = SiteControl.ActionsOf(boot, keyed: !string.IsNullOrEmpty(controlKey));
        WriteFile(s, $"/etc/systemd/system/{ServerBootstrap.HealthUnit}", "0644", BootstrapScript.HealthUnit(boot.Service, boot.InstallsDatabase, actions.Count > 0));
        WriteFile(s, ServerBootstrap.HealthHandlerPath, "0644", BootstrapScript.Handler(actions, boot.RestorePointByRequest ? boot.Restore?.RestorePointSha256 : null));
        WriteFile(s, ServerBootstrap.ScriptPath, "0700", BootstrapScript.Render(boot));
        if (boot.Restore is { } recipe && credentials is not null)
            WriteFile(s, recipe.CredentialsFile, "0600", EnvironmentFile(credentials));
        if (boot.Backup is { } backup)
        {
            // Production's agent runs from boot. A standby's arrives with the signed start request after its cutover (the same
            // files, byte for byte): its user data has the restore to carry.
            if (boot.BackupAtBoot)
                foreach (var ((_, path, mode), content) in AgentFiles.Layout.Zip(AgentFiles.Of(backup).Contents))
                    WriteFile(s, path, mode, content);
            foreach (var vault in backup.Vaults)
            {
                var writer = writers?.FirstOrDefault(w => w.Vault == vault.Vault)
                    ?? throw new ArgumentException($"{boot.Server} backs up into {vault.Vault} and needs its write credentials", nameof(writers));
                WriteFile(s, vault.CredentialsFile, "0600", EnvironmentFile(writer.Credentials));
            }
            if (string.IsNullOrEmpty(controlKey))
                throw new ArgumentException($"{boot.Server} installs a backup agent and needs the site's control key", nameof(controlKey));
        }
        // Every server that takes a control request (the agent's start, the restore point, the fence's stop) has the key and
        // the root unit that carries the requests out.
        if (actions.Count > 0)
        {
            WriteFile(s, BackupControl.KeyFile, "0600", BackupControl.CheckedKey(controlKey!, boot.Stack));
            WriteFile(s, $"/etc/systemd/system/{BackupControl.PathUnit}", "0644", BackupControl.PathUnitText());
            WriteFile(s, $"/etc/systemd/system/{BackupControl.ActUnit}", "0644", BackupControl.ActUnitText());
        }
        if (actions.Contains(ApplicationStop.Action))
        {
            WriteFile(s, ApplicationStop.ScriptPath, "0700", ApplicationStop.Script(boot));
            // The stop's marker keeps the application from starting again on a reboot.
            if (boot.Service.Unit is { } unit)
                WriteFile(s, ApplicationStop.DropInPath(unit), "0644", ApplicationStop.DropInText());
        }
        s.Append("runcmd:\n");
        s.Append("  - [systemctl, daemon-reload]\n");
        // Taking requests before the bootstrap runs: a failed bootstrap can still be fenced, and a data server waiting for its
        // restore point takes it while its bootstrap waits. The daemon refuses the agent's start until the restore is done.
        if (actions.Count > 0)
            s.Append($"  - [systemctl, enable, --now, {BackupControl.PathUnit}]\n");
        s.Append($"  - [{ServerBootstrap.ScriptPath}]\n");
        return s.ToString();
    }

    /// <summary>The credentials as shell assignments, read with <c>set -a; . file</c>.</summary>
    public static string EnvironmentFile(ResticCredentials c) =>
        $"RESTIC_REPOSITORY={Sh.Quote(c.Repository)}\nRESTIC_PASSWORD={Sh.Quote(c.Password)}\n" +
        $"AWS_ACCESS_KEY_ID={Sh.Quote(c.AccessKeyId)}\nAWS_SECRET_ACCESS_KEY={Sh.Quote(c.SecretAccessKey)}\n";

    /// <summary>
    /// A file as a literal block. Its lines must be printable ASCII: YAML also breaks lines at \r, U+0085, U+2028
    /// and U+2029, so any such character would end the block and let the rest be read as YAML. Everything we write
    /// is rendered that way (<see cref="Sh.Quote"/>); anything else is refused rather than written.
    /// </summary>
    private static void WriteFile(StringBuilder s, string path, string permissions, string content)
    {
        var bad = content.AsSpan().IndexOfAnyExceptInRange(' ', '~');
        while (bad >= 0 && content[bad] == '\n')
        {
            var next = content.AsSpan(bad + 1).IndexOfAnyExceptInRange(' ', '~');
            bad = next < 0 ? -1 : bad + 1 + next;
        }
        if (bad >= 0)
            throw new ArgumentException($"{path}: content has the character U+{(int)content[bad]:X4}, which would break the cloud-config; it must be quoted by Sh.Quote", nameof(content));
        s.Append("  - path: ").Append(path).Append('\n');
        s.Append("    owner: root:root\n");
        s.Append("    permissions: '").Append(permissions).Append("'\n");
        s.Append("    content: |\n");
        foreach (var line in content.TrimEnd('\n').Split('\n')) s.Append(line.Length == 0 ? "" : "      ").Append(line).Append('\n');
    }

    private static readonly JsonSerializerOptions Escaped = new() { Encoder = JavaScriptEncoder.Default };

    /// <summary>A YAML double-quoted scalar: JSON's escapes (every control and non-ASCII character as \uXXXX) are YAML's too.</summary>
    public static string YamlQuote(string text) => JsonSerializer.Serialize(text, Escaped);
}
