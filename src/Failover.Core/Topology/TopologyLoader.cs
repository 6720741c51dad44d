using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Failover.Core.Topology;

/// <summary>
/// Loads every <c>Pulumi.&lt;stack&gt;.yaml</c> of a directory and checks the references between them.
/// It only reads: a topology that fails to load leaves every file as it was.
/// </summary>
public static class TopologyLoader
{
    /// <summary>Loads the stacks in <paramref name="stacksDirectory"/>; Pulumi.yaml is looked for above it.</summary>
    public static Topology Load(string stacksDirectory, string? projectFile = null, string? displayRoot = null)
    {
        var dir = Path.GetFullPath(stacksDirectory);
        string Display(string path) => displayRoot is null ? path : Path.GetRelativePath(displayRoot, path);
        if (!Directory.Exists(dir))
            throw new TopologyException(new TopologyProblem(Display(dir), "(directory)", null, "the stacks directory does not exist",
                "pass --stacks DIR naming the folder that holds the Pulumi.<stack>.yaml files"));

        var files = Directory.EnumerateFiles(dir, "Pulumi.*.y*ml")
            .Where(f => StackFileReader.StackNameOf(f) is not null)
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new TopologyException(new TopologyProblem(Display(dir), "(directory)", null, "no Pulumi.<stack>.yaml files found",
                "pass --stacks DIR naming the folder that holds the stack files (infra/stacks in this repository)"));

        var problems = new List<TopologyProblem>();
        var stacks = new List<StackSpec>();
        var texts = new Dictionary<string, string>();
        foreach (var f in files)
        {
            try
            {
                var (stack, text) = StackFileReader.ReadWithText(f, Display(f));
                stacks.Add(stack);
                texts.TryAdd(stack.Name, text);
            }
            catch (TopologyException e) { problems.AddRange(e.Problems); }
        }
        if (problems.Count > 0) throw new TopologyException(problems);

        var dupes = stacks.GroupBy(s => s.Name).Where(g => g.Count() > 1).ToList();
        foreach (var d in dupes)
            problems.Add(new TopologyProblem(d.Last().File, "(file)", null, $"stack '{d.Key}' is defined twice ({string.Join(", ", d.Select(s => s.File))})",
                "keep one of Pulumi.<stack>.yaml and Pulumi.<stack>.yml"));
        // The checks between stacks look stacks up by name: they need each name once.
        if (problems.Count > 0) throw new TopologyException(problems);
        CheckReferences(stacks, problems);
        Sites.InfraReferences.Check(stacks, problems);
        if (problems.Count > 0) throw new TopologyException(problems);

        projectFile ??= FindProjectFile(dir);
        var backend = projectFile is null ? null : ProjectSettings.Read(projectFile, Display(projectFile)).BackendUrl;
        return new Topology(stacks, backend, dir, texts);
    }

    /// <summary>The checks between stacks: one production, at most one dns stack, vaults and the active stack that exist.</summary>
    internal static void CheckReferences(List<StackSpec> stacks, List<TopologyProblem> problems)
    {
        var byName = stacks.ToDictionary(s => s.Name);
        string Names(Role role) => string.Join(", ", stacks.Where(s => s.Role == role).Select(s => s.Name).DefaultIfEmpty("(none)"));

        var production = stacks.Where(s => s.Role == Role.Production).ToList();
        if (production.Count == 0)
            problems.Add(new TopologyProblem(stacks[0].File, "failover:role", null, "no stack has role production",
                "set failover:role: production in the stack that serves customers today"));
        else if (production.Count > 1)
            foreach (var p in production.Skip(1))
                problems.Add(new TopologyProblem(p.File, "failover:role", null,
                    $"a second production stack (also {production[0].Name})", "keep one production stack; the others are standby"));

        foreach (var dnsExtra in stacks.Where(s => s.Role == Role.Dns).Skip(1))
            problems.Add(new TopologyProblem(dnsExtra.File, "failover:role", null, "a second dns stack", "keep one dns stack per topology"));

        foreach (var p in production)
            foreach (var v in p.Backup?.Vaults ?? [])
            {
                if (!byName.TryGetValue(v, out var vault))
                    problems.Add(new TopologyProblem(p.File, "failover:backup.vaults", null, $"vault stack '{v}' does not exist",
                        $"name a stack with failover:role: vault (known: {Names(Role.Vault)}), or add infra/stacks/Pulumi.{v}.yaml"));
                else if (vault.Role != Role.Vault)
                    problems.Add(new TopologyProblem(p.File, "failover:backup.vaults", null, $"stack '{v}' is a {vault.Role.ToString().ToLowerInvariant()} stack, not a vault",
                        $"name a vault stack (known: {Names(Role.Vault)})"));
            }

        foreach (var d in stacks.Where(s => s.Dns is not null))
        {
            var active = d.Dns!.ActiveStack;
            if (!byName.TryGetValue(active, out var target))
                problems.Add(new TopologyProblem(d.File, "failover:dns.active", null, $"stack '{active}' does not exist",
                    $"name the production or a standby stack (known: {string.Join(", ", stacks.Where(s => s.Role is Role.Production or Role.Standby).Select(s => s.Name))})"));
            else if (target.Role is not (Role.Production or Role.Standby))
                problems.Add(new TopologyProblem(d.File, "failover:dns.active", null, $"stack '{active}' is a {target.Role.ToString().ToLowerInvariant()} stack and serves no traffic",
                    "name the production stack or a standby stack"));
        }
    }

    /// <summary>Pulumi.yaml in the stacks folder or any folder above it, as Pulumi itself searches.</summary>
    public static string? FindProjectFile(string fromDirectory)
    {
        for (var d = new DirectoryInfo(fromDirectory); d is not null; d = d.Parent)
            foreach (var n in new[] { "Pulumi.yaml", "Pulumi.yml" })
                if (File.Exists(Path.Combine(d.FullName, n))) return Path.Combine(d.FullName, n);
        return null;
    }

    /// <summary>Finds the stacks folder from a working directory: Pulumi.yaml above it names stackConfigDir.</summary>
    public static string DefaultStacksDirectory(string workingDirectory)
    {
        var project = FindProjectFile(workingDirectory)
            ?? throw new TopologyException(new TopologyProblem(workingDirectory, "--stacks", null,
                "no Pulumi.yaml here or in any folder above, so the stack files cannot be found",
                "run from the project folder, or pass --stacks DIR naming the folder with the Pulumi.<stack>.yaml files"));
        var settings = ProjectSettings.Read(project, project);
        return Path.GetFullPath(settings.StackConfigDir ?? ".", Path.GetDirectoryName(project)!);
    }
}

/// <summary>The parts of Pulumi.yaml the tool reads: where stack files live and where state is kept.</summary>
public sealed record ProjectSettings(string? StackConfigDir, string? BackendUrl, string? Name = null)
{
    public static ProjectSettings Read(string path, string display)
    {
        var stream = YamlGuard.Load(YamlGuard.ReadText(path, display), display, "fix the project file");
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root) return new(null, null);
        string? Scalar(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlScalarNode { Value: { } v } && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        string? backendUrl = null;
        if (root.Children.TryGetValue(new YamlScalarNode("backend"), out var backend))
        {
            if (backend is not YamlMappingNode b)
                throw new TopologyException(new TopologyProblem(display, "backend", (int)backend.Start.Line, "backend is not a mapping with url",
                    "write `backend:` and below it `  url: s3://bucket?region=eu-north-1`"));
            backendUrl = Scalar(b, "url");
        }
        return new(Scalar(root, "stackConfigDir"), backendUrl, Scalar(root, "name"));
    }
}
