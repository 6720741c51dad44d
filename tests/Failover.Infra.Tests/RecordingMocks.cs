using System.Collections.Immutable;
using Pulumi.Testing;

namespace Failover.Infra.Tests;

/// <summary>One resource the program registered, with the inputs it was given.</summary>
public sealed record RegisteredResource(string Type, string Name, ImmutableDictionary<string, object> Inputs)
{
    public string Text(string key) => Inputs.TryGetValue(key, out var v) ? v?.ToString() ?? "" : "";
}

/// <summary>
/// Pulumi mocks that record every resource and answer like the providers would: numeric Hetzner ids,
/// addresses for servers and elastic IPs, and the outputs of referenced stacks.
/// </summary>
public sealed class RecordingMocks(IReadOnlyDictionary<string, IReadOnlyDictionary<string, object>> stackOutputs) : IMocks
{
    private int _next = 1000;
    public List<RegisteredResource> Resources { get; } = [];

    public IEnumerable<RegisteredResource> OfType(string type) => Resources.Where(r => r.Type == type);

    public Task<(string? id, object state)> NewResourceAsync(MockResourceArgs args)
    {
        var type = args.Type ?? "";
        var name = args.Name ?? "";
        lock (Resources) Resources.Add(new RegisteredResource(type, name, args.Inputs));
        var id = Interlocked.Increment(ref _next);
        var state = args.Inputs.ToBuilder();
        switch (type)
        {
            case "pulumi:pulumi:StackReference":
                var stack = name.Split('/')[^1];
                state["outputs"] = stackOutputs.TryGetValue(stack, out var o) ? o.ToImmutableDictionary() : ImmutableDictionary<string, object>.Empty;
                state["secretOutputNames"] = ImmutableArray<object>.Empty;
                break;
            case "hcloud:index/server:Server":
                state["ipv4Address"] = $"198.51.100.{id % 250}";
                state["ipv6Address"] = $"2001:db8::{id:x}";
                break;
            case "hcloud:index/loadBalancer:LoadBalancer":
                state["ipv4"] = "198.51.100.250";
                state["ipv6"] = "2001:db8::fa";
                break;
            case "aws:ec2/eip:Eip":
                state["publicIp"] = $"192.0.2.{id % 250}";
                state["publicDns"] = $"ec2-192-0-2-{id % 250}.compute.amazonaws.com";
                break;
            case "aws:route53/zone:Zone":
                state["zoneId"] = "Z0EXAMPLE";
                state["nameServers"] = ImmutableArray.Create<object>("ns-1.awsdns.example");
                break;
            case "random:index/randomPassword:RandomPassword":
                state["result"] = "mock-restic-password";
                break;
            case "aws:iam/accessKey:AccessKey":
                state["secret"] = "mock-secret-access-key";
                break;
        }
        return Task.FromResult<(string?, object)>((id.ToString(), state.ToImmutable()));
    }

    public Task<object> CallAsync(MockCallArgs args) => Task.FromResult<object>(args.Token switch
    {
        "aws:ec2/getAmi:getAmi" => ImmutableDictionary<string, object>.Empty.Add("id", "ami-0example"),
        _ => args.Args,
    });
}
