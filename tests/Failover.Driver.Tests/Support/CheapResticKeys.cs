using System.Runtime.CompilerServices;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// Puts tests/fixtures/restic-test-keys first on the PATH of the tests and of everything they start: the real restic,
/// with each repository it creates on a local path re-keyed to cheap scrypt parameters (see the script there). The
/// driver, its agent scripts and the repositories' contents are exactly as in production; only opening a key costs less.
/// </summary>
internal static class CheapResticKeys
{
    [ModuleInitializer]
    internal static void PutFirstOnPath()
    {
        var dir = Path.Combine(Repo.Root, "tests", "fixtures", "restic-test-keys");
        if (!File.Exists(Path.Combine(dir, "restic"))) return;
        Environment.SetEnvironmentVariable("PATH", dir + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"));
    }
}
