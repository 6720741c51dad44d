using Failover.Core.Topology;

namespace Failover.Core.Planning;

/// <summary>
/// A secret some steps of a run need: its name, the steps that use it, and where the tool looks for it (so a missing
/// one is named before the first step, not reported as the failure of a step that does not use it).
/// </summary>
/// <param name="Variable">The environment variable that provides it, when one does.</param>
/// <param name="CheckedByDriver">True when the driver reads it itself (and so checks it before a run); false when Pulumi or a provider SDK reads it.</param>
public sealed record Credential(string Name, IReadOnlyList<StepKind> Steps, string Source, string? Variable, bool CheckedByDriver)
{
    /// <summary>What the driver looks for before the first step (a variable, the vault's password file, a cloud provider's token).</summary>
    public CredentialKind Kind { get; init; } = CredentialKind.Variable;

    /// <summary>The stack whose config may hold it (hcloud:token, aws:accessKey), for a provider credential.</summary>
    public string? Stack { get; init; }
}

/// <summary>How a credential is found, so the driver can check it is there before anything changes.</summary>
public enum CredentialKind
{
    /// <summary>The environment variable <see cref="Credential.Variable"/>.</summary>
    Variable,
    /// <summary>The directory vault's password file beside it.</summary>
    VaultPasswordFile,
    /// <summary>HCLOUD_TOKEN, or hcloud:token (secure) in the stack's config: what the Pulumi hcloud provider reads.</summary>
    HetznerToken,
    /// <summary>AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, AWS_PROFILE, aws:accessKey/aws:secretKey (secure) in the stack's config, or a shared credentials file: what the Pulumi aws provider reads.</summary>
    AwsCredentials,
}

/// <summary>Which credentials a run's steps need, from the topology alone.</summary>
public static class Credentials
{
    public const string DnsApiKeyVariable = "FAILOVER_DNS_API_KEY";

    /// <summary>The credentials the given steps need when recovering (or migrating) onto <paramref name="target"/>.</summary>
    public static IReadOnlyList<Credential> For(Topology.Topology topology, StackSpec target, IReadOnlyCollection<StepKind> steps)
    {
        var list = new List<Credential>();
        void Add(Credential c)
        {
            var used = c.Steps.Where(steps.Contains).ToList();
            if (used.Count > 0) list.Add(c with { Steps = used });
        }

        var vault = topology.Backup.Vaults.Select(topology.Find).OfType<StackSpec>().FirstOrDefault();
        if (vault?.Vault is { Kind: VaultKind.Directory } dir)
            Add(new Credential("vault password", [StepKind.Assess, StepKind.SelectBackup, StepKind.Restore, StepKind.FinalSync],
                $"the file {dir.Path}.password beside the vault (written by `failover backup` when it creates the repository)", null, true) { Kind = CredentialKind.VaultPasswordFile });
        else if (vault is not null)
            Add(new Credential("vault password and keys", [StepKind.SelectBackup, StepKind.Restore, StepKind.FinalSync],
                $"the outputs and secrets of the vault stack {vault.Name} (pulumi stack output --show-secrets)", null, false));

        if (topology.DnsStack is { Dns: { } dns } dnsStack)
        {
            var steps_ = new[] { StepKind.LowerTtl, StepKind.Cutover };
            if (dns.Provider == DnsProvider.PowerDns)
                Add(new Credential($"PowerDNS API key of {dns.Zone}", steps_,
                    dnsStack.Site.Provider == Provider.Local
                        ? $"{DnsApiKeyVariable}, or the state directory's credentials.env that `failover drill --keep` writes"
                        : $"{DnsApiKeyVariable}, else failover:dns.apiKey of {dnsStack.Name}",
                    DnsApiKeyVariable, dnsStack.Site.Provider == Provider.Local || dns.ApiKey is null));
            else
                Add(new Credential(dns.Provider == DnsProvider.Route53 ? "AWS credentials for Route 53" : "Hetzner DNS API token", steps_,
                    dns.Provider == DnsProvider.Route53
                        ? $"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE where pulumi runs (stack {dnsStack.Name})"
                        : $"the dns stack {dnsStack.Name}'s provider token (pulumi config)", null, false));
        }

        foreach (var site in new[] { target, topology.Production }.Distinct())
        {
            // The target is created (and a rehearsal copy removed); the site left behind is fenced and later scaled down.
            StepKind[] provision = site == target && site != topology.Production
                ? [StepKind.Provision, StepKind.Teardown]
                : [StepKind.Fence, StepKind.ScaleDown];
            switch (site.Site.Provider)
            {
                case Provider.Hetzner:
                    // Checked before the first step: without it pulumi fails minutes into the run, after the backups were chosen.
                    Add(new Credential($"Hetzner Cloud API token ({site.Name})", provision,
                        $"hcloud:token in {site.Name}'s stack config (`pulumi config set --secret hcloud:token -s {site.Name}`), or HCLOUD_TOKEN where failover runs",
                        "HCLOUD_TOKEN", true) { Kind = CredentialKind.HetznerToken, Stack = site.Name });
                    break;
                case Provider.Aws:
                    Add(new Credential($"AWS credentials ({site.Name})", provision,
                        $"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, where failover runs; or aws:accessKey/aws:secretKey (secure) in {site.Name}'s stack config; or ~/.aws/credentials",
                        "AWS_ACCESS_KEY_ID", true) { Kind = CredentialKind.AwsCredentials, Stack = site.Name });
                    break;
            }
        }
        if (target.Site.Provider != Provider.Local || topology.Production.Site.Provider != Provider.Local)
            Add(new Credential("Pulumi state backend and secrets passphrase", [StepKind.Provision, StepKind.Fence, StepKind.Cutover, StepKind.ScaleDown],
                "pulumi login (PULUMI_ACCESS_TOKEN or the backend's own credentials) and PULUMI_CONFIG_PASSPHRASE for passphrase-encrypted stacks",
                null, false));
        return list;
    }
}
