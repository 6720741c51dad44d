using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace Failover.Driver.Logging;

/// <summary>
/// Redacts secrets before any sink sees an event: values registered as secret (stack-file ciphertexts,
/// decrypted outputs) and any property whose name says it is a credential.
/// </summary>
public sealed partial class RedactingSink(ILogEventSink inner, SecretRegistry secrets) : ILogEventSink, IDisposable
{
    public void Dispose() => (inner as IDisposable)?.Dispose();

    public const string Mask = "[redacted]";

    [GeneratedRegex("(password|passphrase|secret|token|apikey|api_key|accesskey|privatekey|credential)", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    public void Emit(LogEvent logEvent)
    {
        var properties = logEvent.Properties.Select(p =>
            new LogEventProperty(p.Key, SecretName().IsMatch(p.Key) ? new ScalarValue(Mask) : Redact(p.Value)));
        var exception = logEvent.Exception is null ? null : new RedactedException(logEvent.Exception, secrets);
        inner.Emit(new LogEvent(logEvent.Timestamp, logEvent.Level, exception, logEvent.MessageTemplate, properties));
    }

    private LogEventPropertyValue Redact(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } => new ScalarValue(secrets.Redact(s)),
        SequenceValue seq => new SequenceValue(seq.Elements.Select(Redact)),
        StructureValue st => new StructureValue(
            st.Properties.Select(p => new LogEventProperty(p.Name, SecretName().IsMatch(p.Name) ? new ScalarValue(Mask) : Redact(p.Value))), st.TypeTag),
        DictionaryValue d => new DictionaryValue(d.Elements.Select(kv => new KeyValuePair<ScalarValue, LogEventPropertyValue>(kv.Key, Redact(kv.Value)))),
        _ => value,
    };

    /// <summary>An exception as logged: the original's type and stack, with secrets removed from its text.</summary>
    private sealed class RedactedException(Exception original, SecretRegistry secrets)
        : Exception(secrets.Redact(original.Message))
    {
        public override string? StackTrace => original.StackTrace;
        public override string ToString() => secrets.Redact(original.ToString());
    }
}

/// <summary>The secret values this process knows; anything printed or logged is scrubbed of them.</summary>
public sealed class SecretRegistry
{
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public void Add(string? value)
    {
        // Very short values would mask ordinary words; secrets worth the name are longer.
        if (string.IsNullOrEmpty(value) || value.Length < 6) return;
        lock (_gate) _values.Add(value);
    }

    public string Redact(string text)
    {
        string[] values;
        lock (_gate) values = _values.OrderByDescending(v => v.Length).ToArray();
        foreach (var v in values)
            if (text.Contains(v, StringComparison.Ordinal)) text = text.Replace(v, RedactingSink.Mask, StringComparison.Ordinal);
        return text;
    }
}
