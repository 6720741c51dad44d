using Failover.Core.Sites;
using Pulumi;

namespace Failover.Infra;

/// <summary>
/// The stack's outputs, keyed by the contract's names (<see cref="StackOutputs"/>). A credential can only be
/// added as a secret, so it can never show in `pulumi stack output`.
/// </summary>
public sealed class StackExports
{
    private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _secret = new(StringComparer.Ordinal);

    public IReadOnlySet<string> SecretNames => _secret;

    public StackExports Plain(string name, object? value)
    {
        if (StackOutputs.Secrets.Contains(name))
            throw new InvalidOperationException($"output '{name}' holds a credential and must be exported as a secret");
        _values[name] = value;
        return this;
    }

    public StackExports Secret<T>(string name, Output<T> value)
    {
        _values[name] = Output.CreateSecret(value);
        _secret.Add(name);
        return this;
    }

    public IDictionary<string, object?> ToDictionary() => new Dictionary<string, object?>(_values);
}
