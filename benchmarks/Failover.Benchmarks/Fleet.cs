using Failover.Core.Topology;

namespace Failover.Benchmarks;

/// <summary>
/// A 40-tenant fleet sized like a real small SaaS: 3 large (20-30 GB), 7 medium (2-8 GB), 30 small
/// (0.05-1 GB), in three tiers, listed in the order a real config lists them: oldest customers first,
/// and the oldest are the large ones.
/// </summary>
public static class Fleet
{
    public static IReadOnlyList<Tenant> Declared()
    {
        // Fixed seed: every run (and the README's figures) uses the same fleet.
        var random = new Random(20261122);
        double Between(double low, double high) => Math.Round(low + random.NextDouble() * (high - low), 2);
        var large = Enumerable.Range(1, 3).Select(i => ($"large{i:00}", Between(20, 30))).ToList();
        var medium = Enumerable.Range(1, 7).Select(i => ($"medium{i:00}", Between(2, 8))).ToList();
        var small = Enumerable.Range(1, 30).Select(i => ($"small{i:00}", Between(0.05, 1))).ToList();
        // Tiers: the enterprise contracts (one large, two medium, a few small premium plans) are tier 1;
        // most small tenants are self-serve tier 3.
        var tiers = new Dictionary<string, int>
        {
            ["large01"] = 1, ["large02"] = 2, ["large03"] = 3,
            ["medium01"] = 1, ["medium02"] = 1, ["medium03"] = 2, ["medium04"] = 2, ["medium05"] = 2, ["medium06"] = 3, ["medium07"] = 3,
        };
        for (var i = 1; i <= 30; i++) tiers[$"small{i:00}"] = i <= 4 ? 1 : i <= 14 ? 2 : 3;
        // Declared order: the three large tenants interleaved with the medium ones, then the small ones.
        var order = new[] { large[0], medium[0], large[1], medium[1], medium[2], large[2] }.Concat(medium.Skip(3)).Concat(small);
        return order.Select(t => new Tenant(t.Item1, tiers[t.Item1], t.Item2)).ToList();
    }
}
