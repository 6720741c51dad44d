using System.Text;

namespace Failover.Core.Sites;

/// <summary>What a restoring server needs to read the vault; ToString never shows the values.</summary>
public sealed record ResticCredentials(string Repository, string Password, string AccessKeyId, string SecretAccessKey)
{
    public override string ToString() => $"restic credentials for {Repository}";
}

/// <summary>
/// The cloud-init document a server boots with: SSH keys, the bootstrap script, the health unit and, on a
/// restoring server, the root-only credentials file. infra/ builds it inside an Output apply from secret
/// inputs, so the document itself stays a Pulumi secret.
/// </summary>
public static class CloudConfig
{
    public static string Render(ServerBootstrap boot, ResticCredentials? credentials)
    {
        if (boot.Restore is not null && credentials is null)
            throw new ArgumentException($"{boot.Server} restores tenants and needs the vault's credentials", nameof(credentials));
        var s = new StringBuilder("#cloud-config\n");
        if (boot.SshPublicKeys.Count > 0)
        {
            s.Append("ssh_authorized_keys:\n");
            foreach (var key in boot.SshPublicKeys) s.Append("  - ").Append(YamlQuote(key)).Append('\n');
        }
        s.Append("write_files:\n");
        WriteFile(s, $"/etc/systemd/system/{ServerBootstrap.HealthUnit}", "0644", BootstrapScript.HealthUnit(boot.Service));
        WriteFile(s, ServerBootstrap.ScriptPath, "0700", BootstrapScript.Render(boot));
        if (boot.Restore is { } recipe && credentials is not null)
            WriteFile(s, recipe.CredentialsFile, "0600", EnvironmentFile(credentials));
        s.Append("runcmd:\n");
        s.Append("  - [systemctl, daemon-reload]\n");
        s.Append($"  - [{ServerBootstrap.ScriptPath}]\n");
        return s.ToString();
    }

    /// <summary>The credentials as shell assignments, read with <c>set -a; . file</c>.</summary>
    public static string EnvironmentFile(ResticCredentials c) =>
        $"RESTIC_REPOSITORY={Sh.Quote(c.Repository)}\nRESTIC_PASSWORD={Sh.Quote(c.Password)}\n" +
        $"AWS_ACCESS_KEY_ID={Sh.Quote(c.AccessKeyId)}\nAWS_SECRET_ACCESS_KEY={Sh.Quote(c.SecretAccessKey)}\n";

    private static void WriteFile(StringBuilder s, string path, string permissions, string content)
    {
        s.Append("  - path: ").Append(path).Append('\n');
        s.Append("    owner: root:root\n");
        s.Append("    permissions: '").Append(permissions).Append("'\n");
        s.Append("    content: |\n");
        foreach (var line in content.TrimEnd('\n').Split('\n')) s.Append("      ").Append(line).Append('\n');
    }

    private static string YamlQuote(string text) => "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
