using Failover.Core.Planning;
using Failover.Core.Topology;

namespace Failover.Driver.Backup;

/// <summary>One tenant's turn in the queue: its place, when it ran, and what came of it.</summary>
public sealed record TenantTurn<T>(int Order, Tenant Tenant, DateTimeOffset Started, DateTimeOffset Finished, T? Result, Exception? Error);

/// <summary>
/// Runs one piece of work per tenant in restore order (tier, then smallest first: <see cref="RestoreSchedule.Order{T}"/>)
/// with at most <c>parallelism</c> at a time. A tenant that fails is recorded and the others carry on: one
/// broken backup must not keep forty customers down. The failover's restore step runs on it (and the
/// scheduler benchmark measures it with the same <see cref="TenantRestore"/> the local provider's restore walks).
/// </summary>
public static class TenantQueue
{
    public static async Task<IReadOnlyList<TenantTurn<T>>> RunAsync<T>(
        IEnumerable<Tenant> tenants, int parallelism, TimeProvider clock, Func<Tenant, CancellationToken, Task<T>> work, CancellationToken cancellation)
    {
        using var slots = new SemaphoreSlim(Math.Max(1, parallelism));
        var running = new List<Task<TenantTurn<T>>>();
        var order = 0;
        foreach (var tenant in RestoreSchedule.Order(tenants, t => t))
        {
            // Waiting for a slot here, in order, is what makes tenants start in schedule order.
            await slots.WaitAsync(cancellation);
            running.Add(TurnAsync(++order, tenant));
        }
        return await Task.WhenAll(running);

        async Task<TenantTurn<T>> TurnAsync(int place, Tenant tenant)
        {
            try
            {
                var started = clock.GetUtcNow();
                try
                {
                    var result = await work(tenant, cancellation);
                    return new TenantTurn<T>(place, tenant, started, clock.GetUtcNow(), result, null);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
                {
                    return new TenantTurn<T>(place, tenant, started, clock.GetUtcNow(), default, e);
                }
            }
            finally { slots.Release(); }
        }
    }
}
