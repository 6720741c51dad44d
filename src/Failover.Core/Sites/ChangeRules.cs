using Failover.Core.Topology;

namespace Failover.Core.Sites;

/// <summary>Whether a kept site's delete protection is in force (<c>failover:protection</c>).</summary>
public enum Protection
{
    /// <summary>The default: production and fenced sites cannot be deleted by a `pulumi up`.</summary>
    On,
    /// <summary>Set by the driver for one explicit scale-down or unfence: protection lifted, servers still declared.</summary>
    Released,
}

/// <summary>
/// What a configuration change (a new restore point, an SSH key, a newer image) may do to a site's servers, volumes
/// and addresses, by role and mode. infra/ maps it to resource options one to one.
/// </summary>
/// <remarks>
/// <para>A restoring standby (and a rehearsal copy) is replaced delete-first: <c>userData</c> and <c>sshKeys</c> force
/// replacement in the hcloud schema (pulumi-hcloud 1.39.1, <c>willReplaceOnChanges</c>), Pulumi creates the new server
/// first by default, and Hetzner refuses a second server with the same name and a primary IP still assigned to the
/// old one (hetznercloud/terraform-provider-hcloud#558, #842, #1353 <c>primary_ip_already_assigned</c>). Its data is a
/// copy of the backup: losing the old server loses nothing.</para>
/// <para>Production, and a fenced site (the way back), are never replaced or deleted by a config change: changes to user
/// data, keys and image are ignored (the provider docs: "Once the server is created, you can not update the list of SSH
/// Keys ... avoid this by setting lifecycle.ignore_changes"), and the provider's own delete/rebuild protection (Hetzner)
/// or termination protection (AWS <c>disableApiTermination</c>) and Pulumi's <c>protect</c> refuse a delete. Only an
/// explicit scale-down or unfence lifts it, with <see cref="Protection.Released"/> in a `pulumi up` of its own first:
/// a resource dropped from the program is deleted with its old, protected settings, so the lift must land before
/// ("Once the resource is unprotected, it can be deleted as part of a following update", pulumi.com/docs/iac/concepts/
/// options/protect).</para>
/// <para>The protection covers every server of a kept site with its volume and addresses, application servers too: the
/// fence keeps them all and stops the application by a signed request instead (<see cref="FenceEffect"/>), so nothing
/// but an explicit scale-down or `--destroy-old` may delete one.</para>
/// </remarks>
public sealed record ChangeRules(
    bool Kept,
    bool DeleteBeforeReplace,
    bool Protected,
    IReadOnlyList<string> IgnoredHetznerServerChanges,
    IReadOnlyList<string> IgnoredAwsInstanceChanges)
{
    /// <summary>hcloud Server inputs that force a replacement (schema <c>willReplaceOnChanges</c>): ignored on kept sites.</summary>
    public static readonly IReadOnlyList<string> HetznerReplacingInputs = ["userData", "sshKeys", "image"];

    /// <summary>aws.ec2.Instance inputs that replace or rebuild the instance: ignored on kept sites.</summary>
    public static readonly IReadOnlyList<string> AwsReplacingInputs = ["userData", "userDataBase64", "ami", "keyName"];

    /// <summary>Production and fenced sites keep their servers; standbys and rehearsals are rebuilt from the backup.</summary>
    public static ChangeRules For(StackSpec stack)
    {
        var kept = stack.Role == Role.Production || stack.Mode == SiteMode.Fenced;
        return kept
            ? new ChangeRules(true, DeleteBeforeReplace: true, Protected: stack.Protection == Protection.On, HetznerReplacingInputs, AwsReplacingInputs)
            // AMI updates never replace a running standby either: only a new restore point does.
            : new ChangeRules(false, DeleteBeforeReplace: true, Protected: false, [], ["ami"]);
    }

    /// <summary>
    /// AWS names that must stay unique while a replacement exists beside the old resource (security group in its VPC,
    /// placement group and key pair in the region): infra gives them as prefixes and AWS/Pulumi appends a suffix, so a
    /// create-first replacement never collides, and instances keep using the old group until they move.
    /// </summary>
    public static string AwsNamePrefix(string name) => name + "-";
}
