using Failover.Core.Topology;

namespace Failover.Driver.Migration;

/// <summary>
/// The stack files' side of a role change: the edits Core computes from the files as they are now, and their writing:
/// every file to a temporary file first, then renamed over the original, then read back; anything wrong puts the
/// originals back, so the files never name two production stacks or none.
/// </summary>
public static class StackFileRoles
{
    /// <summary>The edits that make <paramref name="newProduction"/> production, the old production a fenced standby; empty when it already is.</summary>
    public static IReadOnlyList<StackFileEdit> Edits(string stacksDirectory, string newProduction) =>
        RoleChange.Promote(TopologyLoader.Load(stacksDirectory, displayRoot: Directory.GetCurrentDirectory()), newProduction, SiteMode.Fenced);

    public static void Write(IReadOnlyList<StackFileEdit> edits, string stacksDirectory, string newProduction)
    {
        var temporary = edits.Select(e => (Edit: e, Temp: e.File + ".failover-new")).ToList();
        foreach (var (edit, temp) in temporary)
        {
            if (File.ReadAllText(edit.File) != edit.Before)
                throw new InvalidOperationException($"{edit.File} changed since its edit was computed; nothing was written");
            File.WriteAllText(temp, edit.After);
        }
        var renamed = new List<StackFileEdit>();
        try
        {
            foreach (var (edit, temp) in temporary)
            {
                File.Move(temp, edit.File, overwrite: true);
                renamed.Add(edit);
            }
            var reread = TopologyLoader.Load(stacksDirectory);
            if (reread.Production.Name != newProduction)
                throw new InvalidOperationException($"the rewritten stack files name {reread.Production.Name} production, not {newProduction}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TopologyException or InvalidOperationException)
        {
            foreach (var edit in renamed) File.WriteAllText(edit.File, edit.Before);
            foreach (var (_, temp) in temporary) File.Delete(temp);
            var why = e is TopologyException t ? string.Join("; ", t.Problems) : e.Message;
            throw new InvalidOperationException($"the role change was not written (the files are as they were): {why}", e);
        }
    }
}
