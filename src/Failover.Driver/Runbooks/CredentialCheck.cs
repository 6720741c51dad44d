using Failover.Core.Planning;
using Failover.Core.Topology;
using Failover.Driver.Engine;
using Failover.Driver.Logging;

namespace Failover.Driver.Runbooks;

/// <summary>
/// Before the first step: every credential the remaining steps need and the driver reads itself must be there,
/// else the run stops naming each missing one and where it comes from (nothing was done yet).
/// </summary>
public static class CredentialCheck
{
    public static void Require(Topology topology, StackSpec target, IReadOnlyCollection<StepKind> remaining, Func<string, string?> variable, string projectDirectory)
    {
        var missing = Credentials.For(topology, target, remaining).Where(c => c.CheckedByDriver && !Present(c, topology, variable, projectDirectory)).ToList();
        if (missing.Count == 0) return;
        throw new InvalidOperationException("the run needs credentials it cannot find; nothing was done:\n" + string.Join("\n", missing.Select(c =>
            $"  {c.Name} (for {string.Join(", ", c.Steps.Select(StepContext.Name))}): {c.Source}")));
    }

    private static bool Present(Credential c, Topology topology, Func<string, string?> variable, string projectDirectory)
    {
        bool Set(string name) => !string.IsNullOrEmpty(variable(name));
        // A rehearsal copy's stack is made from its standby's config, secrets included.
        bool InConfig(params string[] keys) => (topology.Find(c.Stack ?? "") ?? topology.Find(Core.Sites.RehearsalCopy.StandbyOf(c.Stack ?? ""))) is { } stack
            && keys.All(stack.SecretKeys.Contains);
        switch (c.Kind)
        {
            case CredentialKind.HetznerToken:
                return Set("HCLOUD_TOKEN") || InConfig("hcloud:token");
            case CredentialKind.AwsCredentials:
                // The credential chain of the Pulumi aws provider, short of instance metadata (not used here: docs/failover.md).
                var shared = variable("AWS_SHARED_CREDENTIALS_FILE") is { Length: > 0 } file ? file
                    : variable("HOME") is { Length: > 0 } home ? Path.Combine(home, ".aws", "credentials") : null;
                return (Set("AWS_ACCESS_KEY_ID") && Set("AWS_SECRET_ACCESS_KEY")) || Set("AWS_PROFILE")
                    || InConfig("aws:accessKey", "aws:secretKey") || (shared is not null && File.Exists(shared));
            case CredentialKind.VaultPasswordFile:
                var vault = topology.Backup.Vaults.Select(topology.Find).FirstOrDefault(v => v?.Vault?.Kind == VaultKind.Directory);
                return vault?.Vault?.Path is { } path && File.Exists(Path.GetFullPath(path, projectDirectory) + ".password");
            default:
                return c.Variable is { } name && Set(name);
        }
    }

    /// <summary>The kinds of <paramref name="steps"/> not yet completed in the run's journal (all of them for a new run).</summary>
    public static IReadOnlyList<StepKind> Remaining(IEnumerable<IStep> steps, RunStore store, string runId)
    {
        var done = Journal.Live(store.ReadJournal(runId)).Where(r => r.Event == JournalEvent.StepCompleted).Select(r => r.Step).ToHashSet();
        return steps.Select(s => s.Kind).Where(k => !done.Contains(StepContext.Name(k))).ToList();
    }
}

/// <summary>
/// The state directory's credentials.env: NAME=value lines a kept drill leaves for the commands after it (the PowerDNS
/// API key only the drill knew). Written for the owner only; a file others can read is not used.
/// </summary>
public static class CredentialsFile
{
    public const string FileName = "credentials.env";

    public static void Write(string stateDirectory, IReadOnlyDictionary<string, string> values)
    {
        Directory.CreateDirectory(stateDirectory);
        var path = Path.Combine(stateDirectory, FileName);
        File.WriteAllText(path, "");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(path, "# written by `failover drill --keep`; removed by `failover drill --clean`\n" +
            string.Concat(values.Select(kv => $"{kv.Key}={kv.Value}\n")));
    }

    /// <summary>The values, or none when the file is missing or readable by others (then <paramref name="warn"/> says so).</summary>
    public static IReadOnlyDictionary<string, string> Read(string stateDirectory, SecretRegistry secrets, Action<string> warn)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (!File.Exists(path)) return new Dictionary<string, string>();
        if ((File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            warn($"warning: {path} is readable by others and is not used; `chmod 600` it");
            return new Dictionary<string, string>();
        }
        var values = new Dictionary<string, string>();
        foreach (var line in File.ReadAllLines(path))
        {
            var eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0) continue;
            values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            secrets.Add(values[line[..eq].Trim()]);
        }
        return values;
    }

    public static void Remove(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, FileName);
        if (File.Exists(path)) File.Delete(path);
    }
}
