using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace Failover.Driver.Logging;

/// <summary>Builds the process logger: human lines on stderr, optional JSON lines to a file, both redacted.</summary>
public static class LogSetup
{
    /// <summary>Commands print their own progress on stdout; stderr shows warnings and errors unless --verbose.</summary>
    public static Logger Create(SecretRegistry secrets, string? jsonFile, bool verbose, TextWriter? console = null)
    {
        var sinks = new LoggerConfiguration().MinimumLevel.Verbose();
        sinks = console is null
            ? sinks.WriteTo.Console(
                restrictedToMinimumLevel: verbose ? LogEventLevel.Debug : LogEventLevel.Warning,
                outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {Message:lj}{NewLine}{Exception}",
                standardErrorFromLevel: LogEventLevel.Verbose)
            : sinks.WriteTo.Sink(new WriterSink(console), verbose ? LogEventLevel.Debug : LogEventLevel.Warning);
        if (jsonFile is not null)
            sinks = sinks.WriteTo.File(new JsonFormatter(renderMessage: true), jsonFile, restrictedToMinimumLevel: LogEventLevel.Debug);
        var inner = sinks.CreateLogger();
        return new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .Enrich.WithProperty("Tool", "failover")
            .WriteTo.Sink(new RedactingSink(inner, secrets))
            .CreateLogger();
    }
}

/// <summary>Human log lines to a given writer (tests capture what an operator would see on stderr).</summary>
internal sealed class WriterSink(TextWriter writer) : ILogEventSink
{
    private readonly MessageTemplateTextFormatter _format = new("{Level:u3} {Message:lj}{NewLine}{Exception}");

    public void Emit(LogEvent logEvent)
    {
        lock (writer) _format.Format(logEvent, writer);
    }
}
