using System.Diagnostics;
using System.Text;

namespace Failover.Driver.Backup;

/// <summary>A program to start: arguments as a list (never a shell line) and extra environment variables.</summary>
internal sealed record ProgramCall(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string?>? Environment = null,
    string? WorkingDirectory = null)
{
    /// <summary>Start from an empty environment (only <see cref="Environment"/>), not from the driver's: a hook gets exactly what its contract says.</summary>
    public bool CleanEnvironment { get; init; }

    /// <summary>The command as an operator would type it; secrets never appear here because they travel in the environment.</summary>
    public override string ToString() => string.Join(' ', new[] { FileName }.Concat(Arguments));
}

/// <summary>How a program ended: its exit code, its stdout (when not streamed elsewhere) and its stderr.</summary>
internal sealed record ProgramResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs external programs (restic, pg_dump, pg_restore, hooks) with streamed stdin/stdout so large dumps
/// flow through without a temporary copy. stderr is always drained so a chatty program cannot block.
/// </summary>
internal static class ChildProcess
{
    /// <summary>
    /// Runs a program to its end. <paramref name="writeInput"/> writes its stdin (closed afterwards);
    /// <paramref name="readOutput"/> consumes its stdout (otherwise stdout is captured as text).
    /// If either side fails the program is killed, so a broken pipeline never hangs.
    /// </summary>
    public static async Task<ProgramResult> RunAsync(
        ProgramCall call,
        CancellationToken cancellation,
        Func<Stream, CancellationToken, Task>? writeInput = null,
        Func<Stream, CancellationToken, Task>? readOutput = null)
    {
        var info = new ProcessStartInfo(call.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = call.WorkingDirectory ?? "",
        };
        foreach (var a in call.Arguments) info.ArgumentList.Add(a);
        if (call.CleanEnvironment) info.Environment.Clear();
        foreach (var (k, v) in call.Environment ?? new Dictionary<string, string?>()) info.Environment[k] = v;
        ChildLifetime.Tie(info);

        using var process = new Process { StartInfo = info };
        try { ChildLifetime.Start(process); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start {call.FileName}: {e.Message} (is it installed and on PATH?)", e);
        }

        using var kill = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        await using var _ = kill.Token.Register(() => TryKill(process));

        var stderr = ReadTextAsync(process.StandardError.BaseStream, CancellationToken.None);
        var stdoutText = readOutput is null ? ReadTextAsync(process.StandardOutput.BaseStream, CancellationToken.None) : Task.FromResult("");
        var input = FeedAsync(process, writeInput, kill.Token);
        var output = readOutput is null ? Task.CompletedTask : ConsumeAsync(process, readOutput, kill);

        Exception? sideFailure = null;
        try { await output; }
        catch (Exception e) { sideFailure = e; kill.Cancel(); }
        try { await input; }
        catch (Exception e) { sideFailure ??= e; kill.Cancel(); }

        await process.WaitForExitAsync(CancellationToken.None);
        var result = new ProgramResult(process.ExitCode, await stdoutText, await stderr);
        cancellation.ThrowIfCancellationRequested();
        if (sideFailure is not null) throw new PipelineException(call, result, sideFailure);
        return result;
    }

    private static async Task FeedAsync(Process process, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellation)
    {
        try
        {
            if (writeInput is not null) await writeInput(process.StandardInput.BaseStream, cancellation);
        }
        catch (IOException) when (process.HasExited)
        {
            // The program stopped reading (it failed or finished early): its exit code tells the story.
            return;
        }
        catch
        {
            // The producer failed midway: kill before closing stdin, or restic --stdin would store a
            // truncated dump as if it were complete.
            TryKill(process);
            throw;
        }
        // Closing stdin is what tells restic --stdin and pg_restore that the stream has ended.
        try { process.StandardInput.Close(); } catch (IOException) { }
    }

    private static async Task ConsumeAsync(Process process, Func<Stream, CancellationToken, Task> readOutput, CancellationTokenSource kill)
    {
        await readOutput(process.StandardOutput.BaseStream, kill.Token);
        // Drain anything the consumer left so the program can exit.
        await process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, kill.Token);
    }

    private static async Task<string> ReadTextAsync(Stream stream, CancellationToken cancellation)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(cancellation);
    }

    private static void TryKill(Process process)
    {
        try
        {
            if (process.HasExited) return;
            // The program leads its own process group (ChildLifetime): what it started dies with it.
            ChildLifetime.KillGroup(process.Id);
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
    }
}

/// <summary>
/// Ties the programs the driver runs to the driver's life. Each starts as the leader of its own process group
/// (<c>setsid</c>), so the whole tree of a hook can be killed at once, and with a parent-death signal
/// (<c>setpriv --pdeathsig KILL</c>, prctl PR_SET_PDEATHSIG): when the driver is killed, even with
/// <c>kill -9</c>, the kernel kills its children instead of leaving a restic or a hook running on its own.
/// The kernel sends that signal when the parent THREAD ends, so every program is started from one dedicated
/// thread that lives as long as the process (a thread-pool thread may retire and would kill its child).
/// </summary>
internal static class ChildLifetime
{
    private static readonly string? Setsid = Find("setsid");
    private static readonly string? Setpriv = Find("setpriv");
    private static readonly System.Collections.Concurrent.BlockingCollection<(Process Process, TaskCompletionSource Started)> Queue = new();

    static ChildLifetime()
    {
        var spawner = new Thread(() =>
        {
            foreach (var (process, started) in Queue.GetConsumingEnumerable())
            {
                try { process.Start(); started.SetResult(); }
                catch (Exception e) { started.SetException(e); }
            }
        }) { IsBackground = true, Name = "child-spawner" };
        spawner.Start();
    }

    /// <summary>Rewrites the start so that the program runs in its own process group with a parent-death signal, where the tools exist.</summary>
    public static void Tie(ProcessStartInfo info)
    {
        if (!OperatingSystem.IsLinux() || Setsid is null || Setpriv is null) return;
        // A program that is not there is left to fail to start as itself, with the message that says so.
        var program = info.FileName;
        var path = info.Environment.TryGetValue("PATH", out var p) ? p : Environment.GetEnvironmentVariable("PATH");
        if (program.Contains('/') ? !File.Exists(program) : !(path ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)))) return;
        var arguments = info.ArgumentList.ToList();
        info.FileName = Setsid;
        info.ArgumentList.Clear();
        foreach (var a in new[] { "--wait", Setpriv, "--pdeathsig", "KILL", "--", program }.Concat(arguments)) info.ArgumentList.Add(a);
    }

    /// <summary>
    /// Arguments that run <paramref name="program"/> with a parent-death signal of its own, after <paramref name="before"/>
    /// (e.g. <c>runuser -u postgres --</c>, whose change of user clears the signal it was started with).
    /// </summary>
    public static string[] Tied(string[] before, string program) =>
        OperatingSystem.IsLinux() && Setpriv is not null ? [.. before, Setpriv, "--pdeathsig", "KILL", "--", program] : [.. before, program];

    /// <summary>Starts the process from the spawner thread (see the class summary for why).</summary>
    public static void Start(Process process)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add((process, started));
        started.Task.GetAwaiter().GetResult();
    }

    /// <summary>SIGKILL to every process of the group <paramref name="groupId"/>; nothing when it is gone.</summary>
    public static void KillGroup(int groupId)
    {
        if (!OperatingSystem.IsLinux() || groupId <= 1) return;
        try { _ = Kill(-groupId, 9); } catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static string? Find(string tool) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}

/// <summary>A streamed program whose other end failed (the consumer of its output, or the producer of its input).</summary>
internal sealed class PipelineException(ProgramCall call, ProgramResult result, Exception inner) : Exception(Describe(call, result, inner), inner)
{
    public ProgramResult Result { get; } = result;

    // When both ends failed, the program's own error usually is the cause (restic cannot read a damaged
    // pack, so pg_restore sees a truncated dump): name it first.
    private static string Describe(ProgramCall call, ProgramResult result, Exception inner)
    {
        var name = Path.GetFileName(call.FileName);
        var own = result.StandardError.Trim();
        return result.ExitCode is not (0 or 137 or -1) && own.Length > 0
            ? Engine.ToolFailure.Exited(name, "streaming through a pipe", result.ExitCode, own, $"Then: {inner.Message}").Message
            : $"{name} stopped because the other side of its pipe failed: {inner.Message}";
    }
}
