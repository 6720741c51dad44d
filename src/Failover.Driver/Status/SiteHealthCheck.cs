using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Driver.Status;

/// <summary>Whether each production and standby site answers, against what it is for: the serving site must.</summary>
/// <param name="servingWhy">How the serving site was found (stack files or the last cutover), reported first.</param>
public sealed class SiteHealthCheck(ISiteObserver sites, string servingStack, string? servingWhy = null) : ILiveCheck
{
    public string Name => "site health";

    public async Task<IReadOnlyList<LiveFact>> CheckAsync(Topology topology, CancellationToken cancellation)
    {
        var facts = new List<LiveFact>();
        if (servingWhy is not null) facts.Add(new LiveFact(servingStack, Name, Severity.Info, "serving site: " + servingWhy));
        foreach (var stack in topology.Stacks.Where(s => s.Role is Role.Production or Role.Standby))
        {
            var view = await sites.ObserveAsync(stack, cancellation);
            var mode = stack.Mode.ToString().ToLowerInvariant();
            facts.Add(view switch
            {
                { CannotCheck: { } why } => LiveFact.Blind(stack.Name, Name, why),
                { Answers: true } => new LiveFact(stack.Name, Name, Severity.Info,
                    stack.Name == servingStack ? "answers: it serves" : $"answers (mode {mode})"),
                _ when stack.Name == servingStack => new LiveFact(stack.Name, Name, Severity.Error,
                    $"DOWN: the serving site does not answer; if it is lost, `failover plan --to <standby>` then `failover run --to <standby>`"),
                _ when stack.Role == Role.Production => new LiveFact(stack.Name, Name, Severity.Info,
                    $"does not answer: service moved to {servingStack} (the stack files still name {stack.Name} production; `failover migrate --to {stack.Name}` brings it back)"),
                _ when stack.Mode is SiteMode.Cold or SiteMode.Fenced => new LiveFact(stack.Name, Name, Severity.Info, $"not running (mode {mode}, as configured)"),
                _ => new LiveFact(stack.Name, Name, Severity.Warning, $"does not answer although its mode is {mode}"),
            });
        }
        return facts;
    }
}
