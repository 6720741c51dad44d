using Failover.Core.Backup;
using Failover.Core.Sites;
using Failover.Core.Tests.Sites;

namespace Failover.Core.Tests;

/// <summary>The one restore plan both executors walk: its steps, their names in verdicts, and the bash that follows it.</summary>
public class RestorePlanTests
{
    [Fact]
    public void The_plan_orders_manifest_hooks_data_checks_and_hooks_and_names_each_step()
    {
        var plan = RestorePlan.For("acme", ["stop worker", "flush"], ["migrate"], databaseJobs: 4);
        Assert.Equal(["find-run", "fetch-manifest", "pre-hook-1", "pre-hook-2", "create-database", "fetch-dump", "restore-database", "remove-dump",
            "restore-files", "verify-database", "verify-files", "post-hook-1"], plan.Steps.Select(s => s.Name));
        Assert.Equal("flush", plan.CommandOf(plan.Steps[3]));
        Assert.Equal("migrate", plan.CommandOf(plan.Steps[^1]));
        // One job streams the dump into pg_restore: no spool steps.
        Assert.DoesNotContain(RestorePlan.For("acme", [], [], 1).Steps, s => s.Kind is RestoreStepKind.FetchDump or RestoreStepKind.RemoveDump);
    }

    [Fact]
    public void A_verdict_line_reads_back_as_the_verdict()
    {
        var failed = new StepVerdict("verify-database", false, "table public.a has 2 rows, the backup had 3");
        Assert.Equal(failed, StepVerdict.Parse(failed.ToString()));
        Assert.Equal(new StepVerdict("find-run", true), StepVerdict.Parse("find-run\tpassed"));
        Assert.Throws<FormatException>(() => StepVerdict.Parse("find-run ok"));
    }

    [Fact]
    public void The_bash_restore_writes_a_verdict_for_every_step_of_the_plan_in_its_order()
    {
        UserDataTests.RequireOnPath("jq");
        var id = new string('b', 64);
        var check = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("acme"u8.ToArray()))[..RestoreRecipe.NameCheckLength];
        string Run(string postHook) => UserDataTests.Bash($$"""
            SPOOL="$TMPDIR/spool" TENANTS="$TMPDIR/tenants" PG_JOBS=4 HOOK_TIMEOUT=5 SECRETS=() VERDICTS="$TMPDIR/verdicts"
            mkdir -p "$SPOOL"
            restic() { case "$*" in *"snapshots --json"*) echo '[{"id":"{{id}}","tags":["failover","tenant=acme","run=R1","part=db"]}]' ;; *) : ;; esac; }
            runuser() { :; }; chown() { :; }; verify_rows() { :; }; verify_files() { :; }
            hook[0]='[[ $FAILOVER_TENANT == acme ]]' hook[1]='true' hook[2]={{Sh.Quote(postHook)}}
            restore_tenant bbbbbbbbbbbb {{check}} 0,1 2 "$TMPDIR/name" 3>/dev/null 1>/dev/null 2>/dev/null
            cat "$VERDICTS"
            """).Output;
        var plan = RestorePlan.For("acme", ["[[ $FAILOVER_TENANT == acme ]]", "true"], ["x"], databaseJobs: 4);
        Assert.Equal(plan.Steps.Select(s => StepVerdict.Pass(s).ToString()), Run("exit 0").TrimEnd('\n').Split('\n'));
        // The first step that fails is the last verdict, with the reason in the plan's words.
        Assert.Equal(new StepVerdict("post-hook-1", false, RestoreFindings.HookExited("7")), StepVerdict.Parse(Run("exit 7").TrimEnd('\n').Split('\n')[^1]));
    }
}
