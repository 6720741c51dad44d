using System.Text.Json.Nodes;
using Failover.Core.Planning;
using Failover.Core.Sites;
using Failover.Core.Topology;
using Failover.Driver.Backup;
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
            return HealthUrlOf(await pulumi.GetOutputsAsync(site.Name, cancellation)) is { } url && await AnswersAsync(http, url, ServingProbe, cancellation);
        }
        catch (PulumiCommandException e)
        {
            log.Debug("{Stack} does not answer: {Reason}", site.Name, e.Message);
            return false;
        }
    }

    /// <summary>How long the health URL may take to say whether the site serves (runtime option probe).</summary>
    public TimeSpan ServingProbe { get; init; } = RuntimeOptions.Default.Probe;

    /// <summary>Whether a health URL answers 2xx <paramref name="within"/>; a refused or timed-out request is a no.</summary>
    internal static async Task<bool> AnswersAsync(HttpClient http, string url, TimeSpan within, CancellationToken cancellation)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(within);
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
        // Every tenant is named: one the run leaves out (--without-tenant) is written left-out, so infra/ sees a partial
        // restore point that is meant, and a tenant missing by mistake still fails the stack's check.
        var ids = restorePoint.ToDictionary(s => s.Tenant, s => s.SnapshotId, StringComparer.Ordinal);
        var snapshots = ConfiguredSnapshot.Of(Topology is { } all ? all.Tenants.Select(t => t.Name) : ids.Keys.Order(StringComparer.Ordinal), ids);
        var deployed = site.Provisioned(snapshots);
        var mode = deployed.Mode == SiteMode.Full ? "full" : "mvd";
        settings.Add(new ConfigSetting("failover:mode", ConfigValue.Plain(mode)));
        settings.AddRange(snapshots.OrderBy(s => s.Tenant, StringComparer.Ordinal)
            .Select(s => new ConfigSetting(RestorePointConfig.PathOf(s.Tenant), ConfigValue.Plain(s.ConfigValue), Path: true)));
        await pulumi.SetConfigAsync(site.Name, settings, cancellation);
        await KeepOnlyRestorePointAsync(site.Name, snapshots, cancellation);
        var leftOut = snapshots.Where(s => s.LeftOut).Select(s => s.Tenant).ToList();
        progress($"    pulumi up {site.Name} (mode {mode}, {restorePoint.Count} snapshot ids{(leftOut.Count > 0 ? $"; left out: {string.Join(", ", leftOut)}" : "")})");
        var result = await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), cancellation);
        var address = AddressOf(site, result.Outputs);
        // A data server whose user data pins its restore point instead of carrying it waits for it: sent now (again on resume).
        if (Topology is { } topology && SiteUserData.RestorePointByRequest(topology, deployed) is { } recipe)
            await SendRestorePointAsync(deployed, recipe, address, cancellation);
        return address;
    }

    /// <summary>
    /// Read back what infra/ will render the restore from (every failover:snapshots key of the stack), remove the keys an
    /// earlier run left that this restore point does not have, and refuse to go on to `pulumi up` unless the stack then
    /// holds exactly this restore point. Nothing else of the stack's config is touched; on a resume nothing is left to remove.
    /// </summary>
    private async Task KeepOnlyRestorePointAsync(string stack, IReadOnlyList<ConfiguredSnapshot> restorePoint, CancellationToken cancellation)
    {
        async Task<IReadOnlyDictionary<string, string>> HeldAsync() =>
            RestorePointConfig.Parse(stack, (await pulumi.GetConfigAsync(stack, RestorePointConfig.Key, cancellation: cancellation))?.Value);
        var held = await HeldAsync();
        var stale = RestorePointConfig.Stale(held, restorePoint);
        if (stale.Count > 0)
        {
            var command = $"pulumi config rm-all --path --stack {stack} {string.Join(' ', stale)}";
            try
            {
                await pulumi.RemoveConfigAsync(stack, stale, path: true, cancellation);
            }
            catch (PulumiCommandException e)
            {
                throw new InvalidOperationException($"{stack} holds {string.Join(", ", stale)} from an earlier run, not in this restore point, " +
                    $"and removing them failed ({e.Message.Trim()}); nothing was deployed. Remove them (`{command}`), then `failover resume`", e);
            }
            log.Information("Removed {Keys} from {Stack}: left by an earlier run, not in this restore point", string.Join(", ", stale), stack);
            progress($"    {stack}: removed {string.Join(", ", stale)} (an earlier run's, not in this restore point)");
            held = await HeldAsync();
        }
        if (RestorePointConfig.Differences(held, restorePoint) is { Count: > 0 } differences)
            throw new InvalidOperationException($"{stack}'s config does not hold this run's restore point after setting it ({string.Join("; ", differences)}); " +
                $"nothing was deployed. Compare `pulumi config --stack {stack}` with the run's select-backup, fix the keys named, then `failover resume`");
    }

    /// <summary>The topology the standby's user data is decided from; without it no restore point is sent by request.</summary>
    public Topology? Topology { get; init; }

    /// <summary>How long the restore point is offered to a booting data server (its daemon answers once apt has installed python3), and how often.</summary>
    public TimeSpan RestorePointWait { get; init; } = RuntimeOptions.Default.RestorePoint.Timeout;
    public TimeSpan RestorePointPoll { get; init; } = RuntimeOptions.Default.RestorePoint.Poll;

    /// <summary>
    /// The signed restore-point request (<see cref="BackupControl.RestorePoint"/>), repeated until the data server has the
    /// records ("installed", or "unchanged" on a resume): a server still booting (no answer, or not yet waiting) is asked
    /// again; one that refuses the records themselves (not the restore point its user data pins) fails the step, naming why.
    /// </summary>
    private async Task SendRestorePointAsync(StackSpec site, RestoreRecipe recipe, SiteAddress address, CancellationToken cancellation)
    {
        // Read now, never journaled: GetOutputsAsync registers the key for redaction before anything could log it.
        var outputs = await pulumi.GetOutputsAsync(site.Name, cancellation);
        var key = ControlRequests.KeyOf(outputs)
            ?? throw new InvalidOperationException($"{site.Name}'s data server waits for its restore point by a signed request, but the stack exports no {StackOutputs.ControlKey}");
        var url = ControlRequests.DataServerUrl(outputs, site, address);
        var until = Time.GetUtcNow() + RestorePointWait;
        var last = "no answer yet";
        progress($"    {BackupControl.RestorePoint} {site.Name}: {recipe.Tenants.Count} records (sha256 {recipe.RestorePointSha256[..12]}) to {url}");
        while (true)
        {
            try
            {
                var body = BackupControl.RestorePointBody(site.Name, Time.GetUtcNow(), ControlRequests.NewNonce(), recipe);
                var (answer, refusal) = await ControlRequests.PostAsync(Control, url, key, body, cancellation);
                if (refusal is null && answer.Member("restorePoint") is { Length: > 0 } done && !answer.Failed)
                {
                    log.Information("The data server of {Site} took its restore point at {Url} ({Outcome}, sha256 {Sha256})", site.Name, url, done, recipe.RestorePointSha256[..12]);
                    progress($"    {BackupControl.RestorePoint} {site.Name}: {done}");
                    return;
                }
                last = refusal ?? (answer.Failed ? $"the server could not store it: {answer.Answer.Trim()}" : "queued, not yet carried out");
                if (refusal is not null && !refusal.StartsWith("not ready", StringComparison.Ordinal) && !refusal.StartsWith("HTTP 5", StringComparison.Ordinal))
                    throw new InvalidOperationException($"{site.Name}'s data server refused its restore point ({url}: {refusal})");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
            {
                last = e.InnerException?.Message ?? e.Message;
            }
            if (Time.GetUtcNow() >= until)
                throw new TimeoutException($"{site.Name}'s data server did not take its restore point at {url} within {Durations.Format(RestorePointWait)} (last: {last}); `failover resume` offers it again");
            await Task.Delay(RestorePointPoll, Time, cancellation);
        }
    }

    /// <summary>The client of the fence's stop requests: a connection per request, as the daemon closes each one.</summary>
    public HttpClient Control { get; init; } = ControlRequests.Client;

    /// <summary>How long the stop requests may take together: a server of a lost datacenter does not answer at all (runtime option applicationStop).</summary>
    public TimeSpan StopTimeout { get; init; } = RuntimeOptions.Default.ApplicationStop;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// The application stopped on every server by the signed request (the fenced firewall admits SSH only, so it goes
    /// first), then mode fenced applied: every server kept, the service ports and the way out shut (Core: FenceEffect).
    /// A server the stop does not reach is named in the result; it does not fail the fence.
    /// </summary>
    public async Task<string> FenceAsync(StackSpec site, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(fenceTimeout);
        try
        {
            var effect = FenceEffect.Of(site);
            var stops = await StopApplicationAsync(site, effect, await pulumi.GetOutputsAsync(site.Name, timeout.Token), timeout.Token);
            await pulumi.SetConfigAsync(site.Name, "failover:mode", ConfigValue.Plain("fenced"), cancellation: timeout.Token);
            progress($"    pulumi up {site.Name} (mode fenced)");
            await pulumi.UpAsync(site.Name, new Progress<PulumiProgress>(Show), timeout.Token);
            return $"{site.Name} set to mode fenced and applied: {(stops.Count == 0 ? effect.Describe($"{site.Name} exports no {StackOutputs.ControlKey}") : effect.Describe(stops))}";
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"pulumi up on {site.Name} did not finish within {fenceTimeout.TotalMinutes:0} min");
        }
    }

    /// <summary>The stop request to each server Core names, all at once; none when the site exports no key (deployed before it had one).</summary>
    private async Task<IReadOnlyList<ServerStop>> StopApplicationAsync(StackSpec site, FenceEffect effect, IReadOnlyDictionary<string, StackOutput> outputs, CancellationToken cancellation)
    {
        if (ControlRequests.KeyOf(outputs) is not { } key) return [];
        var addresses = ServerAddressesOf(outputs);
        using var within = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        within.CancelAfter(StopTimeout);
        var stops = await Task.WhenAll(effect.Stops.Select(async server =>
        {
            if (!addresses.TryGetValue(server, out var address))
                return new ServerStop(server, StopOutcome.Unreached, $"no address in {StackOutputs.ServerAddresses}");
            var url = BackupControl.Url(address, site.Service);
            try
            {
                var body = BackupControl.Body(ApplicationStop.Action, site.Name, Time.GetUtcNow(), ControlRequests.NewNonce());
                var (answer, refusal) = await ControlRequests.PostAsync(Control, url, key, body, within.Token);
                // Without a result the request is queued: the root unit acts on it (the daemon answers before it has when slow).
                var outcome = answer.Member("application") is { Length: > 0 } done ? done : "queued";
                if (refusal is null && answer.Failed)
                {
                    log.Warning("{Server} of {Site} took the fence's stop at {Url} but it failed: {Outcome}", server, site.Name, url, outcome);
                    return new ServerStop(server, StopOutcome.Refused, $"the stop failed: {outcome}");
                }
                if (refusal is null)
                {
                    log.Information("{Server} of {Site} accepted the fence's stop at {Url} ({Outcome})", server, site.Name, url, outcome);
                    return new ServerStop(server, StopOutcome.Stopped, outcome);
                }
                log.Warning("{Server} of {Site} refused the fence's stop at {Url}: {Reason}", server, site.Name, url, refusal);
                return new ServerStop(server, StopOutcome.Refused, refusal);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
            {
                var why = e is TaskCanceledException ? $"no answer within {StopTimeout.TotalSeconds:0} s" : e.InnerException?.Message ?? e.Message;
                log.Warning("The fence's stop did not reach {Server} of {Site} at {Url}: {Reason}", server, site.Name, url, why);
                return new ServerStop(server, StopOutcome.Unreached, why);
            }
        }));
        foreach (var stop in stops)
            progress($"    {ApplicationStop.Action} {stop.Server}: {(stop.Outcome == StopOutcome.Stopped ? "stopped" : stop.Outcome.ToString().ToLowerInvariant())} ({stop.Detail})");
        return stops;
    }

    /// <summary>Each server's public IPv4 by name (<see cref="StackOutputs.ServerAddresses"/>, an object); empty when not exported.</summary>
    internal static IReadOnlyDictionary<string, string> ServerAddressesOf(IReadOnlyDictionary<string, StackOutput> outputs) =>
        (CheckoutGuard.Map(outputs, StackOutputs.ServerAddresses) ?? new Dictionary<string, string>())
            .Where(p => p.Value.Length > 0).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    public async Task<SiteAddress> AddressAsync(StackSpec site, CancellationToken cancellation) =>
        AddressOf(site, await pulumi.GetOutputsAsync(site.Name, cancellation));

    /// <summary>
    /// A fenced site keeps every server under delete protection (ChangeRules); provisioning it replaces them with the
    /// restore point (their user data names the role they boot as), so the protection is lifted first in a `pulumi up` of its own (servers kept, firewall still fenced).
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
