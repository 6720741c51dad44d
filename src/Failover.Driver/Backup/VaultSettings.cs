using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;

namespace Failover.Driver.Backup;

/// <summary>How to open a vault's restic repository: a directory vault's path and password file, or a vault stack's outputs.</summary>
public static class VaultSettings
{
    /// <summary>A directory vault: the restic repository and its password file (path + ".password").</summary>
    public static ResticSettings Local(Topology topology, string projectDirectory)
    {
        var vault = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory)
            ?? throw new InvalidOperationException("the local provider needs a vault of kind directory in failover:backup.vaults");
        var path = Path.GetFullPath(vault.Vault!.Path ?? throw new InvalidOperationException($"{vault.Name}: failover:vault.path is not set"), projectDirectory);
        var passwordFile = path + ".password";
        if (!File.Exists(passwordFile))
            throw new InvalidOperationException($"the vault {path} has no password file {passwordFile} (written by `failover backup` when it creates the repository)");
        return new ResticSettings(path, File.ReadAllText(passwordFile).Trim());
    }

    /// <summary>The restore side of a vault stack's outputs: repository, password and the read-only key.</summary>
    public static async Task<ResticSettings> CloudAsync(StackSpec vaultStack, IPulumi pulumi, CancellationToken cancellation)
    {
        var outputs = await pulumi.GetOutputsAsync(vaultStack.Name, cancellation);
        string Output(string key) => outputs.TryGetValue(key, out var v) && v.Text.Length > 0 ? v.Text
            : throw new InvalidOperationException($"vault stack {vaultStack.Name} has no output {key} (docs/stack-outputs.md): has it been deployed?");
        var credentials = new Dictionary<string, string>();
        if (outputs.ContainsKey(StackOutputs.ReaderAccessKeyId))
        {
            credentials["AWS_ACCESS_KEY_ID"] = Output(StackOutputs.ReaderAccessKeyId);
            credentials["AWS_SECRET_ACCESS_KEY"] = Output(StackOutputs.ReaderSecretAccessKey);
        }
        return new ResticSettings(Output(StackOutputs.ResticRepository), Output(StackOutputs.ResticPassword)) { Credentials = credentials };
    }
}
