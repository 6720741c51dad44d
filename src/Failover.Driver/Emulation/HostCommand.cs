using Failover.Driver.Backup;

namespace Failover.Driver.Emulation;

/// <summary>Runs the host tools the emulation needs (debootstrap, ip, mount, nsenter); a non-zero exit fails with the tool's own words.</summary>
internal static class HostCommand
{
    public static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellation)
    {
        var call = new ProgramCall(file, arguments, new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive", ["LC_ALL"] = "C.UTF-8" });
        var result = await ChildProcess.RunAsync(call, cancellation);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"`{call}` failed (exit {result.ExitCode}): {LastLines(result.StandardError + result.StandardOutput, 5)}");
        return result.StandardOutput;
    }

    /// <summary>Runs a clean-up command whose failure must not hide the error that led to it.</summary>
    public static async Task<bool> TryAsync(string file, params string[] arguments)
    {
        try
        {
            var r = await ChildProcess.RunAsync(new ProgramCall(file, arguments), CancellationToken.None);
            return r.ExitCode == 0;
        }
        catch (InvalidOperationException) { return false; }
    }

    public static string LastLines(string text, int count) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(count));
}
