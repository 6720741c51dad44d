using Failover.Core.Topology;
using Failover.Driver.Runbooks;

namespace Failover.Driver.Migration;

/// <summary>
/// The write freeze of a migration's source: the built-in freeze of its provider when there is one (the local
/// provider's databases made read-only: the guarantee, so it comes first), then the site's own freeze commands
/// (maintenance mode, a read-only switch in the application). The thaw undoes them in the reverse order.
/// </summary>
public sealed class HookFreeze(SiteHooks hooks, IWriteFreeze? builtIn) : IWriteFreeze
{
    public async Task<string> FreezeAsync(StackSpec source, CancellationToken cancellation)
    {
        var said = new List<string>();
        if (builtIn is not null) said.Add(await builtIn.FreezeAsync(source, cancellation));
        said.Add(await hooks.RunAsync(source, "freeze", source.Migrate.Freeze, null, cancellation));
        return Join(said);
    }

    public async Task<string> ThawAsync(StackSpec source, CancellationToken cancellation)
    {
        var said = new List<string> { await hooks.RunAsync(source, "thaw", source.Migrate.Thaw, null, cancellation) };
        if (builtIn is not null) said.Add(await builtIn.ThawAsync(source, cancellation));
        return Join(said);
    }

    private static string Join(IEnumerable<string> parts) => string.Join("; ", parts.Where(p => p.Length > 0));
}
