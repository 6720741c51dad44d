using System.Diagnostics;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// Makes sure the real servers the tests run are installed: CI is a fresh machine, root, with network
/// only to package registries. Without root the tests fail with the command to run, never skip silently.
/// </summary>
internal static class DebianPackages
{
    private static readonly Lock Gate = new();

    public static void Ensure(Func<bool> present, string what, params string[] packages)
    {
        lock (Gate)
        {
            if (present()) return;
            var command = "apt-get install -y " + string.Join(' ', packages);
            if (Environment.UserName != "root")
                throw new InvalidOperationException($"{what} is not installed and these tests are not running as root: run '{command}' first");
            // The package lists may be missing on a fresh machine: update once, then try again.
            if (!AptGet("install -y -q -o DPkg::Lock::Timeout=600 " + string.Join(' ', packages)))
            {
                AptGet("update -q -o DPkg::Lock::Timeout=600");
                AptGet("install -y -q -o DPkg::Lock::Timeout=600 " + string.Join(' ', packages));
            }
            if (!present()) throw new InvalidOperationException($"{what} is still missing after '{command}'");
        }
    }

    private static bool AptGet(string arguments)
    {
        var start = new ProcessStartInfo("apt-get", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start)!;
        // Both streams are drained so a chatty install cannot block on a full pipe.
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        Task.WaitAll(output, errors);
        return process.ExitCode == 0;
    }
}
