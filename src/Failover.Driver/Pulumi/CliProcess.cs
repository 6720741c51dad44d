using System.ComponentModel;
using System.Diagnostics;

namespace Failover.Driver.Pulumi;

/// <summary>One CLI run to make: arguments, extra environment and its time limit.</summary>
/// <param name="Input">What the CLI reads on stdin (a secret config value, kept off the command line); null gives it an empty stdin.</param>
internal sealed record CliCall(IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment, TimeSpan Timeout, string? Input = null);

/// <summary>How a CLI run ended.</summary>
internal sealed record CliOutcome(int ExitCode, string Stdout, string Stderr);

/// <summary>Starts the pulumi executable, collects its output, and kills its whole process tree on timeout or cancellation.</summary>
internal sealed class CliProcess(PulumiOptions options, TimeProvider time)
{
    public async Task<CliOutcome> RunAsync(CliCall call, string command, string stack, CancellationToken cancellation)
    {
        var info = new ProcessStartInfo(ResolveExecutable())
        {
            WorkingDirectory = options.ProjectDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in call.Arguments) info.ArgumentList.Add(a);
        foreach (var (k, v) in options.Environment) info.Environment[k] = v;
        foreach (var (k, v) in call.Environment) info.Environment[k] = v;

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new PulumiNotFoundException($"The Pulumi CLI at '{info.FileName}' could not be started ({e.Message}). " + InstallAdvice, e);
        }
        // A secret travels on stdin: the command line is readable by every local user (ps, /proc/*/cmdline).
        if (call.Input is { } input) await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close(); // otherwise an empty stdin, as the SDK gives it: the CLI must never wait for an answer
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        using var deadline = new CancellationTokenSource(call.Timeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellation);
        try
        {
            await process.WaitForExitAsync(either.Token);
        }
        catch (OperationCanceledException)
        {
            // pulumi runs the program and provider plugins as children; killing only the CLI would leave them running.
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // it exited on its own just now
            await process.WaitForExitAsync(CancellationToken.None);
            if (cancellation.IsCancellationRequested) throw new OperationCanceledException($"pulumi {command} was interrupted", cancellation);
            throw new PulumiTimeoutException(command, stack, call.Timeout);
        }
        return new CliOutcome(process.ExitCode, await stdout, await stderr);
    }

    internal const string InstallAdvice =
        "Install the Pulumi CLI (https://www.pulumi.com/docs/iac/download-install/) or pass the path of the pulumi executable.";

    /// <summary>The executable, found on the PATH the child will see, so a PATH given in the options is honoured.</summary>
    internal string ResolveExecutable()
    {
        var name = options.Executable;
        if (name.Contains(Path.DirectorySeparatorChar) || name.Contains(Path.AltDirectorySeparatorChar))
        {
            var full = Path.GetFullPath(name);
            return File.Exists(full) ? full : throw new PulumiNotFoundException($"The Pulumi CLI was not found at '{full}'. " + InstallAdvice);
        }
        var path = options.Environment.TryGetValue("PATH", out var p) ? p : System.Environment.GetEnvironmentVariable("PATH") ?? "";
        var suffixes = OperatingSystem.IsWindows() ? new[] { ".exe", ".cmd", "" } : [""];
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var suffix in suffixes)
                if (File.Exists(Path.Combine(dir, name + suffix))) return Path.Combine(dir, name + suffix);
        throw new PulumiNotFoundException($"The Pulumi CLI ('{name}') was not found on PATH. " + InstallAdvice);
    }
}
