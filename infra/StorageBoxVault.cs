using Failover.Core.Sites;
using Pulumi;
using Pulumi.HCloud;
using Pulumi.HCloud.Inputs;
using Pulumi.Random;

namespace Failover.Infra;

/// <summary>
/// A Hetzner Storage Box as a second vault kind, reached by restic over SFTP. It has no object lock:
/// the policy book reports that (also that append-only is not enforced); the box's daily snapshot plan is the only protection against deletion.
/// </summary>
public sealed class StorageBoxVault : ComponentResource
{
    public Output<string> Repository { get; }
    public Output<string> ResticPassword { get; }

    public StorageBoxVault(VaultPlan plan, Pulumi.HCloud.Provider provider)
        : base("failover:vault:StorageBoxVault", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        var boxPassword = new RandomPassword($"{names.Vault}-login", new RandomPasswordArgs
        {
            Length = 32, Special = true, MinSpecial = 1, MinUpper = 1, MinLower = 1, MinNumeric = 1,
            // Only characters Hetzner's Storage Box password policy accepts (VaultPlan.StorageBoxPasswordSpecials).
            OverrideSpecial = VaultPlan.StorageBoxPasswordSpecials,
        }, new CustomResourceOptions { Parent = this, Protect = true });
        var box = new StorageBox(names.Vault, new StorageBoxArgs
        {
            Name = names.Vault,
            Location = plan.Stack.Site.Location,
            StorageBoxType = VaultPlan.StorageBoxType,
            Password = boxPassword.Result,
            SshKeys = plan.Stack.Access.SshPublicKeys.ToList(),
            AccessSettings = new StorageBoxAccessSettingsArgs
            {
                SshEnabled = true, ReachableExternally = true, SambaEnabled = false, WebdavEnabled = false, ZfsEnabled = false,
            },
            DeleteProtection = true,
            // The box's own snapshots are the only protection against a login that deletes (daily: dayOfWeek/dayOfMonth null = every day).
            SnapshotPlan = new StorageBoxSnapshotPlanArgs
            {
                Hour = plan.Snapshots!.Hour, Minute = plan.Snapshots.Minute, MaxSnapshots = plan.Snapshots.MaxSnapshots,
            },
            Labels = names.Labels().ToDictionary(),
        }, new CustomResourceOptions { Parent = this, Provider = provider, Protect = true });
        var restic = new RandomPassword(names.ResticPassword, new RandomPasswordArgs { Length = VaultPlan.ResticPasswordLength, Special = false },
            new CustomResourceOptions { Parent = this, Protect = true });
        Repository = Output.Tuple(box.Username, box.Server).Apply(t => VaultPlan.StorageBoxRepository(t.Item1, t.Item2));
        ResticPassword = restic.Result;
        RegisterOutputs(new Dictionary<string, object?> { ["repository"] = Repository });
    }
}
