using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Failover.Driver.Tests.Support;

/// <summary>Runs the helper programs of the fixtures (chown, initdb, pg_ctl) and finds free loopback ports.</summary>
internal static class Processes
{
    /// <summary>Runs a program to its end; a non-zero exit fails the fixture with the program's output.</summary>
    public static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} did not finish within 60s");
        }
        Task.WaitAll(output, errors);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {output.Result}{errors.Result}");
        return output.Result;
    }

    /// <summary>
    /// Runs the real `failover` binary as a child process, as an operator's terminal would: in
    /// <paramref name="workingDirectory"/>, with <paramref name="environment"/> added to this process's.
    /// </summary>
    public static (int ExitCode, string Output) Failover(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var (code, stdout, stderr) = FailoverStreams(workingDirectory, environment, args);
        return (code, stdout + stderr);
    }

    /// <summary>As <see cref="Failover"/>, with stdout and stderr apart (a `--json` document is stdout alone).</summary>
    public static (int ExitCode, string Stdout, string Stderr) FailoverStreams(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // With Ctrl-C's SIGINT at its default disposition, as a terminal starts a program: a test run started in the background
        // (`&` in a script, nohup) passes SIGINT on ignored, and the driver, as programs do, leaves an ignored SIGINT ignored
        // (the Ctrl-C test then saw its run go on to the cutover).
        var psi = new ProcessStartInfo("env") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--default-signal=INT");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "failover.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("failover did not finish in 3 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A loopback port free for both TCP and UDP at the moment of asking (DNS serves both on one port).</summary>
    public static int FreePort()
    {
        for (var i = 0; i < 50; i++)
        {
            var tcp = new TcpListener(IPAddress.Loopback, 0);
            tcp.Start();
            var port = ((IPEndPoint)tcp.LocalEndpoint).Port;
            try
            {
                using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) { }
            finally { tcp.Stop(); }
        }
        throw new InvalidOperationException("no free loopback port for TCP and UDP");
    }

    /// <summary>A port nothing listens on (taken free, then released): connecting to it is refused.</summary>
    public static int ClosedPort() => FreePort();
}
