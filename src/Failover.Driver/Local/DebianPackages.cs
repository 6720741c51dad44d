using System.Diagnostics;

namespace Failover.Driver.Local;

/// <summary>A program the local provider runs and the Debian package that ships it.</summary>
public sealed record RequiredProgram(string Program, string Package, IReadOnlyList<string> Candidates);

/// <summary>
/// Makes sure the programs the drill runs exist: when one is missing and we are root, installs its Debian
/// package with apt-get (progress shown); otherwise says exactly which command to run.
/// </summary>
public static class DebianPackages
{
    public static readonly IReadOnlyList<RequiredProgram> Drill =
    [
        new("restic", "restic", ["/usr/bin/restic"]),
        new("initdb", "postgresql", PostgresBin("initdb")),
        new("pg_ctl", "postgresql", PostgresBin("pg_ctl")),
        new("pg_dump", "postgresql-client", PostgresBin("pg_dump")),
        new("pg_restore", "postgresql-client", PostgresBin("pg_restore")),
        new("pdns_server", "pdns-server", ["/usr/sbin/pdns_server"]),
        new("gsqlite3 backend", "pdns-backend-sqlite3", ["/usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so", "/usr/lib/aarch64-linux-gnu/pdns/libgsqlite3backend.so"]),
        new("sqlite3", "sqlite3", ["/usr/bin/sqlite3"]),
    ];

    private static IReadOnlyList<string> PostgresBin(string program) =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin", program)).ToList()
            : [];

    public static bool IsPresent(RequiredProgram p) => p.Candidates.Any(File.Exists);

    // One apt-get at a time in this process (the drill's steps, or test fixtures starting at once); another process's
    // apt-get (unattended-upgrades, a second drill) is waited for by dpkg's own lock, up to LockWait.
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);
    private const int LockWaitSeconds = 600;

    /// <summary>Installs what is missing; returns the packages installed.</summary>
    public static async Task<IReadOnlyList<string>> EnsureAsync(IReadOnlyList<RequiredProgram> programs, Action<string> progress, CancellationToken cancellation)
    {
        if (programs.All(IsPresent)) return [];
        await OneAtATime.WaitAsync(cancellation);
        try { return await InstallMissingAsync(programs, progress, cancellation); }
        finally { OneAtATime.Release(); }
    }

    private static async Task<IReadOnlyList<string>> InstallMissingAsync(IReadOnlyList<RequiredProgram> programs, Action<string> progress, CancellationToken cancellation)
    {
        var missing = programs.Where(p => !IsPresent(p)).Select(p => p.Package).Distinct().ToList();
        if (missing.Count == 0) return [];
        var command = $"apt-get install -y --no-install-recommends {string.Join(' ', missing)}";
        if (geteuid() != 0)
            throw new InvalidOperationException($"the drill needs these Debian packages: {string.Join(", ", missing)}. Install them as root: {command}");
        progress($"installing Debian packages: {string.Join(", ", missing)} (apt-get; a minute or two)");
        var wait = $"-o DPkg::Lock::Timeout={LockWaitSeconds}";
        await Run("apt-get", $"{wait} update -q", progress, cancellation);
        await Run("apt-get", $"{wait} {command["apt-get ".Length..]}", progress, cancellation);
        // Debian starts the services it installs; the drill runs its own instances on loopback addresses.
        foreach (var service in new[] { "pdns", "postgresql" })
            await Run("service", $"{service} stop", _ => { }, cancellation, mayFail: true);
        var still = programs.Where(p => !IsPresent(p)).Select(p => p.Program).ToList();
        if (still.Count > 0) throw new InvalidOperationException($"after installing, still missing: {string.Join(", ", still)}");
        return missing;
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    internal static async Task Run(string file, string args, Action<string> progress, CancellationToken cancellation, bool mayFail = false)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var err = p.StandardError.ReadToEndAsync(cancellation);
        string? line;
        while ((line = await p.StandardOutput.ReadLineAsync(cancellation)) is not null)
            if (line.StartsWith("Setting up", StringComparison.Ordinal) || line.StartsWith("Unpacking", StringComparison.Ordinal)) progress("  " + line);
        await p.WaitForExitAsync(cancellation);
        if (p.ExitCode != 0 && !mayFail)
            throw new Engine.ToolFailureException(Engine.ToolFailure.Exited($"{file} {Verb(args)}", "installing the drill's Debian packages", p.ExitCode, await err,
                $"Run `{file} {args}` as root to see all it says, fix that (apt sources, disk space, a held lock), then run again"));
    }

    /// <summary>The subcommand of apt-get's arguments, past its <c>-o NAME=VALUE</c> options ("update", "install").</summary>
    private static string Verb(string args)
    {
        var words = args.Split(' ');
        var i = 0;
        while (i + 1 < words.Length && words[i] == "-o") i += 2;
        return i < words.Length ? words[i] : args;
    }
}
