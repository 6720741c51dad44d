using Failover.Core.Sites;
using Pulumi;
using Pulumi.Aws.Route53;

namespace Failover.Infra;

/// <summary>The service zone on Route 53: records that follow the active stack, and a health check on it.</summary>
public sealed class Route53Zone : ComponentResource
{
    public Output<string> ZoneId { get; }
    public Output<System.Collections.Immutable.ImmutableArray<string>> NameServers { get; }
    public Output<string> HealthCheckId { get; }

    public Route53Zone(DnsPlan plan, Func<string, Output<string>> activeOutput, Pulumi.Aws.Provider provider)
        : base("failover:dns:Route53Zone", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        CustomResourceOptions Opts() => new() { Parent = this, Provider = provider };
        InputMap<string> Tags() => names.Labels().ToDictionary();

        // Deleting the zone would change its name servers and take the service off the internet.
        var zone = new Zone(names.Zone, new ZoneArgs { Name = plan.Dns.Zone, Comment = $"failover: {names.Stack}", Tags = Tags() },
            new CustomResourceOptions { Parent = this, Provider = provider, Protect = true });
        var check = new HealthCheck(plan.HealthCheck.Name, new HealthCheckArgs
        {
            Type = "HTTP",
            IpAddress = activeOutput(plan.HealthCheck.AddressOutput),
            Port = plan.HealthCheck.Port,
            ResourcePath = plan.HealthCheck.Path,
            FailureThreshold = plan.HealthCheck.FailureThreshold,
            RequestInterval = plan.HealthCheck.IntervalSeconds,
            Tags = new Dictionary<string, string>(names.Labels()) { ["Name"] = $"{plan.Active.Name} health" },
        }, Opts());
        // The A records carry the health check, as multivalue answers (PlannedRecord.HealthChecked says why). A record
        // that changes routing policy or set identifier is a new record of the same name, which Route 53 refuses beside
        // the old one: delete first.
        foreach (var r in plan.Records)
        {
            var args = new RecordArgs { ZoneId = zone.ZoneId, Name = r.Fqdn, Type = r.Type, Ttl = r.Ttl, Records = { activeOutput(r.SourceOutput) } };
            if (r.HealthChecked)
            {
                args.MultivalueAnswerRoutingPolicy = true;
                args.SetIdentifier = r.SetIdentifier!;
                args.HealthCheckId = check.Id;
            }
            _ = new Record(names.Record(new(r.Name, r.Type)), args, new CustomResourceOptions { Parent = this, Provider = provider, DeleteBeforeReplace = true });
        }
        ZoneId = zone.ZoneId;
        NameServers = zone.NameServers;
        HealthCheckId = check.Id;
        RegisterOutputs(new Dictionary<string, object?> { ["zoneId"] = ZoneId });
    }
}
