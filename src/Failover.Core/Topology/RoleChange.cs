namespace Failover.Core.Topology;

/// <summary>Moves the production role to another stack, in the stack files' own text (comments and layout kept).</summary>
public static class RoleChange
{
    private const string Ns = StackFileReader.Namespace;

    /// <summary>
    /// The keys that describe the deployment rather than a site, kept on whichever stack is production: the reader
    /// accepts tenants, backup, targets, policy and timeLimits only there, the topology reads stateBackend only there, and
    /// production's restore is the default for every standby without its own. They move with the role.
    /// </summary>
    public static readonly IReadOnlyList<string> ProductionKeys =
        [Ns + "tenants", Ns + "backup", Ns + "targets", Ns + "restore", Ns + "policy", Ns + "stateBackend", Ns + "timeLimits"];

    /// <summary>
    /// The comment on a <c>failover:mode</c> line added to a former production that had none: the next promotion of
    /// that stack removes the line again (production runs full by default), so that a failback restores the file exactly.
    /// </summary>
    public const string AddedModeComment = "set by failover migrate; removed when this stack is production again";

    /// <summary>The edits that make <paramref name="newProduction"/> the production stack and the current production a
    /// standby in <paramref name="formerProductionMode"/>; only files that change are returned (none when the files already say so).</summary>
    /// <remarks>
    /// Pure: starts from the texts the topology was loaded from (<see cref="Topology.TextOf"/>). A caller about to write
    /// should check that each file still holds <see cref="StackFileEdit.Before"/>, or use the overload that reads them.
    /// </remarks>
    /// <exception cref="ArgumentException">No stack has that name, or it is not a standby (or the production).</exception>
    /// <exception cref="TopologyException">A file cannot be rewritten safely; nothing is returned, nothing is changed.</exception>
    public static IReadOnlyList<StackFileEdit> Promote(Topology topology, string newProduction, SiteMode formerProductionMode) =>
        Promote(topology, newProduction, formerProductionMode, stack => topology.TextOf(stack)
            ?? throw new InvalidOperationException($"the topology holds no text for {stack.File}: it was not loaded from files; pass readFile"));

    /// <summary>As <see cref="Promote(Topology, string, SiteMode)"/>, starting from the texts <paramref name="readFile"/>
    /// returns for each file's path (<see cref="StackFileEdit.File"/>): the files as they are now.</summary>
    public static IReadOnlyList<StackFileEdit> Promote(Topology topology, string newProduction, SiteMode formerProductionMode,
        Func<string, string> readFile) =>
        Promote(topology, newProduction, formerProductionMode, stack => readFile(topology.PathOf(stack)));

    private static IReadOnlyList<StackFileEdit> Promote(Topology topology, string newProduction, SiteMode formerProductionMode,
        Func<StackSpec, string> textOf)
    {
        var target = Target(topology, newProduction);
        var former = topology.Production;
        var files = new Dictionary<string, (StackSpec Stack, string Before, StackFileText Text)>();
        StackFileText Open(StackSpec stack)
        {
            if (!files.TryGetValue(stack.Name, out var f))
            {
                var text = textOf(stack);
                files[stack.Name] = f = (stack, text, new StackFileText(text, stack.File));
            }
            return f.Text;
        }

        if (target != former)
        {
            var from = Open(former);
            var to = Open(target);
            MoveProductionKeys(from, to);
            to.SetScalar(Ns + "role", null, "production");
            from.SetScalar(Ns + "role", null, "standby");
            // Production runs full: the default, so a mode line is set to full, or dropped when migrate added it.
            if (to.EndsWithComment(Ns + "mode", AddedModeComment)) to.Remove(Ns + "mode");
            else if (to.Has(Ns + "mode")) to.SetScalar(Ns + "mode", null, "full");
            var mode = formerProductionMode.ToString().ToLowerInvariant();
            if (from.Has(Ns + "mode")) from.SetScalar(Ns + "mode", null, mode);
            else from.InsertLine(Ns + "mode", mode, AddedModeComment, Ns + "site", Ns + "role");
            // The reader refuses a restore point on production: production is the source of backups, not a restore.
            to.Remove(Ns + "snapshots");
            to.Remove(Ns + "restoreFrom");
            // Production's delete protection is never left lifted by an earlier unfence (Sites/ChangeRules.cs).
            to.Remove(Ns + "protection");
        }
        foreach (var dns in topology.Stacks.Where(s => s.Dns is not null))
        {
            var text = Open(dns);
            if (text.Scalar(Ns + "dns", "active") != target.Name) text.SetScalar(Ns + "dns", "active", target.Name);
        }

        var edits = files.Values
            .Select(f => new StackFileEdit(topology.PathOf(f.Stack), f.Before, f.Text.Text) { DisplayFile = f.Stack.File })
            .Where(e => e.Changes)
            .OrderBy(e => e.File, StringComparer.Ordinal)
            .ToList();
        Verify(topology, target, former, formerProductionMode, files.ToDictionary(kv => kv.Key, kv => kv.Value.Text.Text));
        return edits;
    }

    private static StackSpec Target(Topology topology, string name)
    {
        var standbys = string.Join(", ", topology.Standbys.Select(s => s.Name).DefaultIfEmpty("(none)"));
        var target = topology.Find(name)
            ?? throw new ArgumentException($"unknown stack '{name}'{ConfigNode.Suggest(name, topology.Stacks.Select(s => s.Name))}; " +
                $"production ({topology.Production.Name}) can move to a standby: {standbys}");
        if (target.Role is not (Role.Production or Role.Standby))
            throw new ArgumentException($"'{name}' is a {target.Role.ToString().ToLowerInvariant()} stack, not a standby; " +
                $"production ({topology.Production.Name}) can move to a standby: {standbys}");
        return target;
    }

    /// <summary>Cuts the production keys from the former production and puts them, comments and order kept, into the new one.</summary>
    private static void MoveProductionKeys(StackFileText from, StackFileText to)
    {
        var moving = ProductionKeys.Where(from.Has).ToList();
        var problems = new List<TopologyProblem>();
        foreach (var key in moving.Where(to.Has))
            problems.Add(new TopologyProblem(to.File, key, to.LineOf(key),
                $"the production stack's {key} (at {from.File}:{from.LineOf(key)}) moves here with the role, and this stack has its own",
                $"keep one: remove {key} from {to.File} if production's fits, or from {from.File}; then run again"));
        foreach (var key in moving.Where(from.HasSecret))
            problems.Add(new TopologyProblem(from.File, key, from.LineOf(key),
                "it holds a secure: value, and a secret encrypted for one stack cannot be read in another",
                $"write the value in plain text or set it again on the new production with `pulumi config set --secret`; then run again"));
        if (problems.Count > 0) throw new TopologyException(problems);
        foreach (var run in from.Cut(moving))
            to.Insert(run, Ns + "servers", Ns + "site", Ns + "role");
    }

    /// <summary>
    /// Reads the rewritten files back as the loader would and checks they say what was asked: a rewrite that does not
    /// read back is refused here rather than written.
    /// </summary>
    private static void Verify(Topology topology, StackSpec target, StackSpec former, SiteMode mode, Dictionary<string, string> after)
    {
        var problems = new List<TopologyProblem>();
        var stacks = new List<StackSpec>();
        foreach (var stack in topology.Stacks)
        {
            if (!after.TryGetValue(stack.Name, out var text)) { stacks.Add(stack); continue; }
            try { stacks.Add(StackFileReader.Parse(text, stack.Name, stack.File)); }
            catch (TopologyException e) { problems.AddRange(e.Problems); }
        }
        if (problems.Count == 0)
        {
            TopologyLoader.CheckReferences(stacks, problems);
            Sites.InfraReferences.Check(stacks, problems);
        }
        if (problems.Count == 0)
        {
            var byName = stacks.ToDictionary(s => s.Name);
            void Expect(bool holds, StackSpec stack, string key, string what)
            {
                if (!holds) problems.Add(new TopologyProblem(stack.File, key, null, $"the rewritten file does not read back as {what}",
                    "edit the stack files by hand (docs/configuration.md, \"When production moves\")"));
            }
            Expect(byName[target.Name].Role == Role.Production, target, Ns + "role", "production");
            if (target != former)
                Expect(byName[former.Name] is { Role: Role.Standby } f && f.Mode == mode, former, Ns + "mode", $"a {mode.ToString().ToLowerInvariant()} standby");
            foreach (var dns in stacks.Where(s => s.Dns is not null))
                Expect(dns.Dns!.ActiveStack == target.Name, dns, Ns + "dns.active", $"pointing at {target.Name}");
        }
        if (problems.Count > 0)
            throw new TopologyException(problems.Select(p => p with { Message = $"after moving production to {target.Name}: {p.Message}" }).ToList());
    }
}
