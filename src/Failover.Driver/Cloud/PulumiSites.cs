using System.Text.Json.Nodes;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Pulumi;
using Failover.Driver.Runbooks;
using Serilog;

namespace Failover.Driver.Cloud;

/// <summary>
/// Cloud sites through Pulumi: provisioning sets the standby's mode and restore point in its stack config
/// and runs `pulumi up`; fencing sets the old primary's mode to fenced and applies it if its provider answers.
/// </summary>
public sealed class PulumiSites(IPulumi pulumi, HttpClient http, ILogger log, Action<string> progress, TimeSpan fenceTimeout) : ISiteProbe, ISiteProvisioner, ISiteFence, ISiteRetirement
{
    public async Task<bool> IsServingAsync(StackSpec site, CancellationToken cancellation)
    {
        try
        {
            return HealthUrlOf(await pulumi.GetOutputsAsync(site.Name, cancellation)) is { } url && await AnswersAsync(http, url, cancellation);
        }
        catch (PulumiCommandException e)
        {
            log.Debug("{Stack} does not answer: {Reason}", site.Name, e.Message);
            return false;
        }
    }

    /// <summary>Whether a health URL answers 2xx within 5 s; a refused or timed-out request is a no.</summary>
    internal static async Task<bool> AnswersAsync(HttpClient http, string url, CancellationToken cancellation)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync(url, timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The vault the restore point comes from when it is not the standby's default (failover:restoreFrom is then set), else null.</summary>
    public Func<IReadOnlyList<TenantSnapshot>, CancellationToken, Task<string?>>? RestoreFromOf { get; init; }

    public async Task<SiteAddress> ProvisionAsync(StackSpec site, IReadOnlyList<TenantSnapshot> restorePoint, CancellationToken cancellation)
    {
        await pulumi.SelectOrCreateStackAsync(site.Name, cancellation);
        var settings = new List<ConfigSetting>();
        // The standby's cloud-init restores from one vault: the one select-backup read the snapshots from.
        if (RestoreFromOf is not null && await RestoreFromOf(restorePoint, cancellation) is { } vault)
        {
            settings.Add(new ConfigSetting("failover:restoreFrom", ConfigValue.Plain(vault)));
            progress($"    {site.Name} restores from {vault} (failover:restoreFrom)");
        }
        var mode = site.Mode == SiteMode.Full ? "full" : "mvd";
        settings.Add(new ConfigSetting("failover:mode", ConfigValue.Plain(mode)));
        settings.AddRange(restorePoint.OrderBy(s => s.Tenant, StringComparer.Ordinal)
            .Select(s => new ConfigSetting($"failover:snapshots.{s.Tenant}", ConfigValue.Plain(s.SnapshotId), Path: true)));
        await pulumi.SetConfigAsync(site.Name, settings, cancellation);
        progress($"    pulumi up {site.Name} (mode {mode}, {restorePoint.Count} snapshot ids)");
        var result = await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), cancellation);
        return AddressOf(site, result.Outputs);
    }

    public async Task<string> FenceAsync(StackSpec site, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(fenceTimeout);
        try
        {
            await pulumi.SetConfigAsync(site.Name, "failover:mode", ConfigValue.Plain("fenced"), cancellation: timeout.Token);
            progress($"    pulumi up {site.Name} (mode fenced)");
            await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), timeout.Token);
            return $"{site.Name} set to mode fenced and applied: {FenceEffect.Of(site).Describe()}";
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"pulumi up on {site.Name} did not finish within {fenceTimeout.TotalMinutes:0} min");
        }
    }

    public async Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken cancellation) =>
        AddressOf(site, await pulumi.GetOutputsAsync(site.Name, cancellation));

    /// <summary>
    /// A fenced site keeps its data server under delete protection (ChangeRules); provisioning it replaces it with the
    /// restore point, so the protection is lifted first in a `pulumi up` of its own (servers kept, firewall still fenced).
    /// The provisioning then sets the mode, which opens the firewall again.
    /// </summary>
    public async Task<FenceLift> UnfenceAsync(StackSpec site, CancellationToken cancellation)
    {
        if (site.Mode != SiteMode.Fenced)
            return new FenceLift(false, $"{site.Name}: its mode is set by the provisioning (pulumi up lifts the fence)");
        await ReleaseProtectionAsync(site, cancellation);
        return new FenceLift(true, $"{site.Name}: delete protection lifted on purpose (failover:protection released); the provisioning lifts the fence");
    }

    /// <summary>`failover:protection released` and `pulumi up`: the servers stay declared, so the lift lands before any delete.</summary>
    private async Task ReleaseProtectionAsync(StackSpec site, CancellationToken cancellation)
    {
        await pulumi.SetConfigAsync(site.Name, "failover:protection", ConfigValue.Plain("released"), cancellation: cancellation);
        progress($"    pulumi up {site.Name} (delete protection lifted)");
        await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), cancellation);
    }

    /// <summary>
    /// The explicit scale-down (`migrate --confirm`): delete protection lifted first, then mode cold and `pulumi up`
    /// (servers and volumes go, network and keys stay); destroy runs `pulumi destroy` instead.
    /// </summary>
    public async Task<string> ScaleDownAsync(StackSpec site, bool destroy, CancellationToken cancellation)
    {
        if (ChangeRules.For(site).Kept) await ReleaseProtectionAsync(site, cancellation);
        if (destroy)
        {
            progress($"    pulumi destroy {site.Name}");
            await pulumi.DestroyAsync(site.Name, new Progress<PulumiProgress>(Show), cancellation);
            return $"{site.Name}: every resource destroyed (pulumi destroy); its stack and config remain";
        }
        await pulumi.SetConfigAsync(site.Name, "failover:mode", ConfigValue.Plain("cold"), cancellation: cancellation);
        progress($"    pulumi up {site.Name} (mode cold)");
        await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), cancellation);
        return $"{site.Name} set to mode cold and applied: servers removed, network, firewall and keys kept";
    }

    private void Show(PulumiProgress p)
    {
        switch (p)
        {
            case ResourceFinished f when f.Op is not "same":
                progress($"      {f.Op,-8} {f.Type} {f.Name}");
                break;
            case ResourceFailed f:
                progress($"      FAILED   {f.Type} {f.Name}");
                break;
            case EngineDiagnostic { Severity: "error" } d:
                progress($"      error: {d.Message.Trim()}");
                break;
        }
    }

    /// <summary>The service addresses and health URL from the stack-outputs contract (docs/stack-outputs.md).</summary>
    internal static SiteAddress AddressOf(StackSpec site, IReadOnlyDictionary<string, StackOutput> outputs)
    {
        var addresses = ServiceAddressesOf(outputs);
        if (addresses.Count == 0)
            throw new InvalidOperationException($"{site.Name} exported no {StackOutputs.ServiceIpv4} after pulumi up: is it still in mode cold? (docs/stack-outputs.md)");
        var plain = new JsonObject();
        foreach (var (k, v) in outputs.Where(o => !o.Value.IsSecret).OrderBy(o => o.Key, StringComparer.Ordinal))
            plain[k] = JsonNode.Parse(v.Value.GetRawText());
        return new SiteAddress(addresses, HealthUrlOf(outputs), plain);
    }

    /// <summary>The service addresses a stack exports (IPv4, then IPv6); none while it is cold.</summary>
    internal static IReadOnlyList<string> ServiceAddressesOf(IReadOnlyDictionary<string, StackOutput> outputs) =>
        new[] { Text(outputs, StackOutputs.ServiceIpv4), Text(outputs, StackOutputs.ServiceIpv6) }.OfType<string>().ToList();

    internal static string? HealthUrlOf(IReadOnlyDictionary<string, StackOutput> outputs) => Text(outputs, StackOutputs.HealthUrl);

    private static string? Text(IReadOnlyDictionary<string, StackOutput> outputs, string key) =>
        outputs.TryGetValue(key, out var v) && !v.IsSecret && v.Text.Length > 0 ? v.Text : null;
}
