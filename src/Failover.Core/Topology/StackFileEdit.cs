namespace Failover.Core.Topology;

/// <summary>A rewrite of one stack file: where it is, its text before and after.</summary>
public sealed record StackFileEdit(string File, string Before, string After)
{
    public bool Changes => Before != After;

    /// <summary>
    /// The edit that sets one top-level <c>config:</c> entry of a stack file to <paramref name="lines"/> (the key line first,
    /// the key unindented), every other byte kept (<see cref="StackFileText"/>); a key the file lacks is added last.
    /// </summary>
    /// <exception cref="TopologyException">The file's <c>config:</c> is not a block mapping of keys (naming the file and the fix).</exception>
    public static StackFileEdit SetConfig(string file, string text, string key, IReadOnlyList<string> lines)
    {
        var edited = new StackFileText(text, file);
        edited.Set(key, lines);
        return new StackFileEdit(file, text, edited.Text);
    }

    /// <summary>The edit that removes one top-level <c>config:</c> entry (with its leading comments); none when the file lacks it.</summary>
    public static StackFileEdit RemoveConfig(string file, string text, string key)
    {
        var edited = new StackFileText(text, file);
        edited.Remove(key);
        return new StackFileEdit(file, text, edited.Text);
    }

    /// <summary>The file's name as the operator knows it (relative to the working directory when loaded so); diff headers use it.</summary>
    public string DisplayFile { get; init; } = File;

    /// <summary>A unified diff (--- a/…, +++ b/…, @@ hunks, 3 lines of context) of the edit, for the operator to read before it is written.</summary>
    public string Diff()
    {
        var shown = DisplayFile.Replace('\\', '/').TrimStart('/');
        return UnifiedDiff.Render(Before, After, "a/" + shown, "b/" + shown);
    }
}
