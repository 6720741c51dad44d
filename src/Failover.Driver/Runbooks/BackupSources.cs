namespace Failover.Driver.Runbooks;

/// <summary>Which vaults a run's chosen snapshots come from, as the select-backup summary says it.</summary>
internal static class BackupSources
{
    /// <returns>"" for a single-vault run; " from A" when every tenant comes from A; " from A (3), B (1)" otherwise.</returns>
    public static string Summary(IReadOnlyList<string> vaults)
    {
        var counts = vaults.GroupBy(v => v).ToList();
        return counts.Count switch
        {
            0 => "",
            1 => $" from {counts[0].Key}",
            _ => " from " + string.Join(", ", counts.Select(g => $"{g.Key} ({g.Count()})")),
        };
    }
}
