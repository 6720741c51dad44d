using System.Diagnostics;

namespace Failover.Driver.Engine;

/// <summary>
/// Who runs a command, for the report an auditor files: the OS user says little on a shared jump host or as root,
/// so the operator names themself (--operator, FAILOVER_OPERATOR), or the checkout's git user.email is taken.
/// </summary>
public static class OperatorIdentity
{
    public const string Variable = "FAILOVER_OPERATOR";

    /// <summary>The first of: the option, the variable, `git config user.email` in <paramref name="projectDirectory"/>; null when none.</summary>
    public static string? Resolve(string? option, Func<string, string?> variable, string projectDirectory)
    {
        if (!string.IsNullOrWhiteSpace(option)) return option.Trim();
        if (variable(Variable) is { Length: > 0 } fromEnvironment) return fromEnvironment.Trim();
        return GitEmail(projectDirectory);
    }

    /// <summary>How the report names who ran it: "ops@example.com (OS user root on host-1)".</summary>
    public static string Describe(string? @operator, string osUser, string host) =>
        @operator is null
            ? $"OS user {osUser} on {host} (no operator named: --operator, {Variable} or git user.email)"
            : $"{@operator} (OS user {osUser} on {host})";

    private static string? GitEmail(string directory)
    {
        try
        {
            var start = new ProcessStartInfo("git", ["-C", directory, "config", "user.email"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var git = Process.Start(start);
            if (git is null) return null;
            var email = git.StandardOutput.ReadToEnd().Trim();
            if (!git.WaitForExit(5000)) { git.Kill(); return null; }
            return git.ExitCode == 0 && email.Length > 0 ? email : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this machine
        }
    }
}
