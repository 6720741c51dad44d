using Failover.Driver.Logging;
using Serilog.Core;

namespace Failover.Driver.Tests.Support;

/// <summary>The driver's real logger (redacting sink, console text and JSON file) writing where a test can read it.</summary>
internal sealed class LogCapture : IDisposable
{
    private readonly StringWriter _console = new();
    private readonly string _jsonFile = Path.Combine(Path.GetTempPath(), $"failover-test-log-{Guid.NewGuid():N}.json");

    public LogCapture(SecretRegistry? secrets = null)
    {
        Secrets = secrets ?? new SecretRegistry();
        Logger = LogSetup.Create(Secrets, _jsonFile, verbose: true, console: _console);
    }

    public SecretRegistry Secrets { get; }
    public Logger Logger { get; }

    /// <summary>Everything an operator could read: the console lines and the JSON log file.</summary>
    public string Everything()
    {
        Logger.Dispose();
        var json = File.Exists(_jsonFile) ? File.ReadAllText(_jsonFile) : "";
        return _console + "\n" + json;
    }

    public void Dispose()
    {
        Logger.Dispose();
        File.Delete(_jsonFile);
    }
}
