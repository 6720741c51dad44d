namespace Failover.Driver.Cli;

/// <summary>Exit codes scripts can rely on; documented in docs/cli.md.</summary>
public static class ExitCodes
{
    /// <summary>Done, and no error-level finding.</summary>
    public const int Ok = 0;
    /// <summary>The command ran, but the topology has error-level findings (a pull-request gate fails on this).</summary>
    public const int Findings = 1;
    /// <summary>The command line is wrong: unknown option, missing argument.</summary>
    public const int Usage = 2;
    /// <summary>The stack files cannot be used: syntax, unknown keys or values, broken references. Nothing was changed.</summary>
    public const int InvalidTopology = 3;
    /// <summary>An operation failed on the way (a provider, a server, a process).</summary>
    public const int Failed = 4;
    /// <summary>Another failover holds the run lock; the message names its owner.</summary>
    public const int Locked = 5;
    /// <summary>A migration stopped at its TTL wait: run the same command again after the time it printed (or add --wait).</summary>
    public const int Waiting = 6;
    /// <summary>A migration cut over and keeps the old site fenced: `failover migrate --to STACK --confirm` scales it down.</summary>
    public const int AwaitingConfirmation = 7;
    /// <summary>`status`: no check alarmed, but at least one could not look (pulumi missing or failing, a vault or site unreadable).</summary>
    public const int Blind = 8;
    /// <summary>The evidence does not check out: a journal whose hash chain is broken, or a report whose SHA-256 does not match (`report --verify`).</summary>
    public const int Tampered = 9;
    /// <summary>Interrupted (Ctrl-C).</summary>
    public const int Interrupted = 130;
}
