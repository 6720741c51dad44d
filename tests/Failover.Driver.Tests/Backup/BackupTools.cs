using System.Diagnostics;

namespace Failover.Driver.Tests.Backup;

/// <summary>
/// Makes sure restic and PostgreSQL are on the machine. CI is a fresh root machine with package registries
/// reachable, so missing tools are installed with apt-get; anywhere else a missing tool fails the tests
/// with a message saying what to install, never a silent pass.
/// </summary>
internal static class BackupTools
{
    private static readonly Lazy<string> PostgresBin = new(Ensure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The bin directory of the installed PostgreSQL (initdb, pg_ctl, pg_dump, pg_restore of one version).</summary>
    public static string PostgresBinDirectory => PostgresBin.Value;

    public static bool IsRoot => Environment.UserName == "root";

    private static string Ensure()
    {
        if (FindPostgresBin() is null || !OnPath("restic"))
        {
            if (!IsRoot || !OnPath("apt-get"))
                throw new InvalidOperationException(
                    "These tests need restic and PostgreSQL (initdb, pg_ctl, pg_dump, pg_restore). " +
                    "Install them (Debian: apt-get install -y restic postgresql postgresql-client) or run the tests as root so they can.");
            Run("apt-get", "update", "-q");
            Run("apt-get", "install", "-y", "-q", "restic", "postgresql", "postgresql-client");
            // The package may start a system cluster on 5432; the tests start their own clusters instead.
            TryRun("service", "postgresql", "stop");
        }
        return FindPostgresBin() ?? throw new InvalidOperationException("PostgreSQL was installed but no /usr/lib/postgresql/<version>/bin/initdb was found");
    }

    private static string? FindPostgresBin() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_dump")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));

    public static string Run(string program, params string[] args)
    {
        var (code, output) = TryRun(program, args);
        if (code != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed (exit {code}): {output}");
        return output;
    }

    public static (int Code, string Output) TryRun(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
