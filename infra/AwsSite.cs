using Failover.Core.Sites;
using Pulumi;
using Pulumi.Aws.Ec2;
using Pulumi.Aws.Ec2.Inputs;

namespace Failover.Infra;

/// <summary>The same site on AWS: VPC, subnet, internet gateway and routes, security group, instances, EBS volumes, elastic IPs.</summary>
public sealed class AwsSite : ComponentResource
{
    public SiteAddresses Addresses { get; }

    public AwsSite(SitePlan plan, Func<PlannedServer, Output<string>> userData, Pulumi.Aws.Provider provider)
        : base("failover:site:AwsSite", plan.Names.Stack, new ComponentResourceOptions { Providers = { provider } })
    {
        var names = plan.Names;
        CustomResourceOptions Opts(params Resource[] dependsOn) =>
            new() { Parent = this, Provider = provider, DependsOn = dependsOn.ToList() };
        InputMap<string> Tags(string name, string? group = null) =>
            new Dictionary<string, string>(names.Labels(group)) { ["Name"] = name };

        var vpc = new Vpc(names.Network, new VpcArgs
        {
            CidrBlock = plan.NetworkCidr, EnableDnsHostnames = true, EnableDnsSupport = true, Tags = Tags(names.Network),
        }, Opts());
        var subnet = new Subnet(names.Subnet, new SubnetArgs
        {
            VpcId = vpc.Id, CidrBlock = plan.SubnetCidr, AvailabilityZone = plan.AvailabilityZone!, Tags = Tags(names.Subnet),
        }, Opts());
        var gateway = new InternetGateway(names.Gateway, new InternetGatewayArgs { VpcId = vpc.Id, Tags = Tags(names.Gateway) }, Opts());
        var routes = new RouteTable(names.RouteTable, new RouteTableArgs
        {
            VpcId = vpc.Id,
            Routes = { new RouteTableRouteArgs { CidrBlock = "0.0.0.0/0", GatewayId = gateway.Id } },
            Tags = Tags(names.RouteTable),
        }, Opts());
        _ = new RouteTableAssociation(names.RouteTable, new RouteTableAssociationArgs { SubnetId = subnet.Id, RouteTableId = routes.Id }, Opts());

        var ingress = plan.Firewall.Select(r => new SecurityGroupIngressArgs
        {
            Description = r.Description, Protocol = "tcp", FromPort = r.Port, ToPort = r.Port,
            CidrBlocks = r.Sources.Where(c => !c.Contains(':')).ToList(),
            Ipv6CidrBlocks = r.Sources.Where(c => c.Contains(':')).ToList(),
        }).ToList();
        // Unlike Hetzner's firewall (public interfaces only), a security group also filters the private network: a fenced
        // site's servers take nothing from the VPC either (SitePlan.SiteInternalTraffic).
        if (plan.SiteInternalTraffic)
            ingress.Add(new SecurityGroupIngressArgs
            {
                Description = "site-internal traffic", Protocol = "-1", FromPort = 0, ToPort = 0, CidrBlocks = { plan.NetworkCidr },
            });
        // The provider manages exactly the egress rules given (it removes AWS's default allow-all): a fenced site gets ping
        // only, not an empty list, whose meaning differs between tools (hashicorp/terraform-provider-aws#644).
        var egress = plan.Egress == Egress.Closed
            ? new SecurityGroupEgressArgs { Description = "fenced: nothing goes out but ping", Protocol = "icmp", FromPort = -1, ToPort = -1, CidrBlocks = { "0.0.0.0/0" } }
            : new SecurityGroupEgressArgs { Protocol = "-1", FromPort = 0, ToPort = 0, CidrBlocks = { "0.0.0.0/0" } };
        // Names AWS requires unique are prefixes (ChangeRules.AwsNamePrefix): a create-first replacement never collides.
        var group = new SecurityGroup(names.Firewall, new SecurityGroupArgs
        {
            NamePrefix = ChangeRules.AwsNamePrefix(names.Firewall),
            Description = $"failover site {names.Stack}",
            VpcId = vpc.Id,
            Ingress = ingress,
            Egress = { egress },
            Tags = Tags(names.Firewall),
        }, Opts());
        var placement = new PlacementGroup(names.PlacementGroup, new PlacementGroupArgs
        {
            // No name: Pulumi auto-names it from the resource name plus a random suffix (the provider has no name prefix here).
            Strategy = "spread", Tags = Tags(names.PlacementGroup),
        }, Opts());
        KeyPair? keyPair = plan.Stack.Access.SshPublicKeys.Count == 0 ? null
            : new KeyPair(names.SshKey(0), new KeyPairArgs { KeyNamePrefix = ChangeRules.AwsNamePrefix(names.SshKey(0)), PublicKey = plan.Stack.Access.SshPublicKeys[0], Tags = Tags(names.SshKey(0)) }, Opts());

        // Core decides what a config change may do (ChangeRules): a restoring standby is replaced delete-first, production
        // and a fenced site never (changes ignored; termination protection and Pulumi protect on every instance, its
        // volume and address: the fence keeps them all and stops the application by a signed request).
        var siteRules = plan.Changes;

        var servers = new List<(PlannedServer Plan, Eip Ip)>();
        if (plan.Servers.Count > 0)
        {
            var ami = GetAmi.Invoke(new GetAmiInvokeArgs
            {
                MostRecent = true,
                Owners = { SiteImage.AwsAmiOwner },
                Filters = { new GetAmiFilterInputArgs { Name = "name", Values = { SiteImage.AwsAmiNamePattern } } },
            }, new InvokeOptions { Provider = provider, Parent = this }).Apply(r => r.Id);
            foreach (var s in plan.Servers)
            {
                CustomResourceOptions Kept(params Resource[] dependsOn) => Opts(dependsOn).Under(siteRules);
                var args = new InstanceArgs
                {
                    Ami = ami,
                    InstanceType = s.Type,
                    AvailabilityZone = plan.AvailabilityZone!,
                    SubnetId = subnet.Id,
                    VpcSecurityGroupIds = { group.Id },
                    PlacementGroup = placement.Name,
                    // Raw gzip, base64-encoded for the API: EC2 counts the decoded bytes against its 16 KB. pulumi-aws:
                    // "gzip-encoded user data must be base64-encoded and passed via this argument to avoid corruption"
                    // (aws.ec2.Instance userDataBase64, sdk/dotnet/Ec2/Instance.cs).
                    UserDataBase64 = userData(s),
                    // A public address at launch: the bootstrap installs packages before the elastic IP is associated.
                    AssociatePublicIpAddress = true,
                    // A new restore point is a new standby server: cloud-init runs only on the first boot, and without this
                    // the provider stops, modifies and starts the instance, whose new user data then never runs ("If you stop
                    // an instance, modify its user data, and start the instance, the updated user data is not run", the EC2
                    // user data page above). Never production's.
                    UserDataReplaceOnChange = !siteRules.Kept,
                    DisableApiTermination = siteRules.Protected,
                    RootBlockDevice = new InstanceRootBlockDeviceArgs { VolumeSize = s.Capacity.DiskGb, VolumeType = "gp3", Encrypted = true },
                    MetadataOptions = new InstanceMetadataOptionsArgs { HttpTokens = "required" },
                    Tags = Tags(s.Name, s.Group),
                };
                if (keyPair is not null) args.KeyName = keyPair.KeyName;
                // A newer Debian image must not replace running servers on the next `pulumi up`; kept sites ignore more.
                var instance = new Instance(s.Name, args, Opts(gateway).Under(siteRules, siteRules.IgnoredAwsInstanceChanges));
                if (s.VolumeGb > 0)
                {
                    var volume = new Pulumi.Aws.Ebs.Volume(names.Volume(s.Group, s.Index), new Pulumi.Aws.Ebs.VolumeArgs
                    {
                        AvailabilityZone = plan.AvailabilityZone!, Size = s.VolumeGb, Type = "gp3", Encrypted = true,
                        Tags = Tags(names.Volume(s.Group, s.Index), s.Group),
                    }, Kept());
                    // A volume is attached to one instance at a time: the old attachment goes before the new one.
                    _ = new VolumeAttachment(names.Volume(s.Group, s.Index), new VolumeAttachmentArgs
                    {
                        DeviceName = DataVolume.AwsAttachmentDevice, InstanceId = instance.Id, VolumeId = volume.Id,
                    }, new CustomResourceOptions { Parent = this, Provider = provider, DeleteBeforeReplace = true });
                }
                var ip = new Eip(names.Ipv4(s.Group, s.Index), new EipArgs
                {
                    Domain = "vpc", Instance = instance.Id, Tags = Tags(names.Ipv4(s.Group, s.Index), s.Group),
                }, Kept(gateway));
                servers.Add((s, ip));
            }
        }

        var front = servers.FirstOrDefault(x => x.Plan.ServesTraffic).Ip;
        var ipv4 = front?.PublicIp ?? Output.Create("");
        var hostname = front?.PublicDns ?? Output.Create("");
        var serverAddresses = SiteAddresses.ByServer(servers.Select(x => (x.Plan.Name, x.Ip.PublicIp)));
        Addresses = new SiteAddresses(ipv4, Output.Create(""), hostname, serverAddresses);
        RegisterOutputs(new Dictionary<string, object?> { ["serviceIpv4"] = ipv4, ["serviceHostname"] = hostname });
    }
}
