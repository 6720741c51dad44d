using System.Diagnostics;
using Failover.Core.Backup;
using Failover.Core.Sites;

namespace Failover.Core.Tests.Sites;

public class UserDataTests
{
    private const string Password = "Zq9PasswordThatMustNeverAppearInTheScript";
    private static readonly ResticCredentials Credentials =
        new("s3:https://s3.eu-west-3.amazonaws.com/acme-failover-vault/restic", Password, "AKIAEXAMPLE", "secretAccessKeyExample");

    private static (SitePlan Plan, RestoreRecipe Recipe) Hel1()
    {
        var t = SiteStacks.FailedOverToHel1();
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        return (plan, RestoreRecipe.For(t, plan.Stack, plan.DataServer!.Capacity.Vcpus)!);
    }

    private static string DataServerScript()
    {
        var (plan, recipe) = Hel1();
        return BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe));
    }

    [Fact]
    public void The_recipe_restores_every_tenant_tier_first_then_smallest_first()
    {
        var (_, recipe) = Hel1();
        Assert.Equal(["fabrikam", "contoso", "northwind", "litware", "adventure-works", "wingtip", "tailspin", "margie", "lucerne", "proseware"],
            recipe.Tenants.Select(t => t.Tenant.Name));
        Assert.Equal(4, recipe.PgRestoreJobs); // the MVD db server is a cpx32 with 4 vCPUs
    }

    [Fact]
    public void Each_tenant_is_restored_from_the_backup_set_of_its_database_snapshot_then_verified()
    {
        var (_, recipe) = Hel1();
        var northwind = recipe.Tenants.Single(t => t.Tenant.Name == "northwind");
        Assert.Equal([RestoreStepKind.FindRun, RestoreStepKind.FetchManifest, RestoreStepKind.CreateDatabase, RestoreStepKind.FetchDump,
            RestoreStepKind.RestoreDatabase, RestoreStepKind.RemoveDump, RestoreStepKind.RestoreFiles, RestoreStepKind.VerifyDatabase,
            RestoreStepKind.VerifyFiles], northwind.Steps.Select(s => s.Kind));
        // The tenant is one data line the restore function loops over, not an unrolled script.
        Assert.Contains(RestoreRecipe.EncodeRecords(recipe.Tenants.Select(t => (t.SnapshotKey, t.NameCheck))).Split(' ')[0][..40], DataServerScript());
        Assert.Contains("PG_JOBS=4 ", DataServerScript());
    }

    [Fact]
    public void The_restore_function_reads_manifest_first_then_dump_files_and_checks_them_in_that_order()
    {
        RequireOnPath("jq");
        // restic, runuser and the checks stand in here and record what they are asked; the order is the recipe's.
        var id = new string('a', 64);
        var result = Bash($$"""
            SPOOL="$TMPDIR/spool" TENANTS="$TMPDIR/tenants" PG_JOBS=4 HOOK_TIMEOUT=5 SECRETS=()
            mkdir -p "$SPOOL"
            restic() {
              echo "restic $*" >> "$TMPDIR/calls"
              case "$*" in
                *"snapshots --json"*) echo '[{"id":"{{id}}","tags":["failover","tenant=northwind","run=R1","part=db"]}]' ;;
                *) echo data ;;
              esac
            }
            runuser() { shift 3; echo "$*" >> "$TMPDIR/calls"; }
            verify_rows() { echo "verify_rows $*" >> "$TMPDIR/calls"; }
            verify_files() { echo "verify_files $*" >> "$TMPDIR/calls"; }
            chown() { :; }
            hook[0]='echo pre'
            restore_tenant aaaaaaaaaaaa {{Check("northwind")}} 0 - "$TMPDIR/name" 3>&1 1>/dev/null 2>/dev/null
            echo "---"; sed "s|$TMPDIR|T|g" "$TMPDIR/calls"
            """);
        Assert.Equal(0, result.Code);
        Assert.Equal($"""
            northwind {id}
            ---
            restic --no-lock snapshots --json aaaaaaaaaaaa
            restic --no-lock dump --tag failover,tenant=northwind,run=R1,part=manifest latest /manifest.json
            createdb -- northwind
            restic --no-lock dump {id} /northwind.dump
            pg_restore --jobs=4 --no-owner --no-privileges --exit-on-error --dbname=northwind T/spool/northwind.dump
            restic --no-lock restore --tag failover,tenant=northwind,run=R1,part=files latest --target T/tenants/northwind/files
            verify_rows northwind T/spool/northwind.manifest.json
            verify_files T/tenants/northwind/files T/spool/northwind.manifest.json

            """, result.Output);
    }

    private const string PreHook = "systemctl stop northwind-worker.service";
    private const string PostHook = "psql -tAc 'select count(*) from customers' | xargs echo customers ready:";

    [Fact]
    public void A_tenant_s_hooks_run_before_its_restore_and_after_its_verification()
    {
        var t = SiteStacks.FailedOverToHel1WithHooks(PreHook, PostHook);
        var recipe = RestoreRecipe.For(t, t.Find("standby-hel1")!, 4)!;
        var northwind = recipe.Tenants.Single(x => x.Tenant.Name == "northwind");
        var kinds = northwind.Steps.Select(s => s.Kind).ToList();
        Assert.Equal(kinds.IndexOf(RestoreStepKind.FetchManifest) + 1, kinds.IndexOf(RestoreStepKind.PreHook));
        Assert.Equal(kinds.IndexOf(RestoreStepKind.PreHook) + 1, kinds.IndexOf(RestoreStepKind.CreateDatabase));
        Assert.Equal(RestoreStepKind.PostHook, kinds[^1]);
        Assert.Equal(kinds.IndexOf(RestoreStepKind.VerifyFiles) + 1, kinds.IndexOf(RestoreStepKind.PostHook));
        Assert.Equal([0], northwind.PreHooks);
        Assert.Equal([1], northwind.PostHooks);
        Assert.Equal([PreHook, PostHook], recipe.Hooks);
        Assert.Contains($"hook[1]={Sh.Quote(PostHook)}\n", recipe.RenderData());
        Assert.Contains($"\ntenant_hooks {recipe.Tenants.ToList().IndexOf(northwind)}:0:1\n", recipe.RenderData());
        // Tenants without hooks get none, and the script gives root a PostgreSQL role only when some tenant has hooks.
        Assert.DoesNotContain(recipe.Tenants.Single(x => x.Tenant.Name == "contoso").Steps, s => s.Kind is RestoreStepKind.PreHook or RestoreStepKind.PostHook);
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        Assert.Contains("createuser --superuser root", BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe)));
        Assert.DoesNotContain("createuser", DataServerScript());
        Assert.Contains("FAILOVER_REHEARSAL=0", DataServerScript());
    }

    [Fact]
    public void A_hook_gets_the_tenant_s_environment_its_output_is_logged_and_its_failure_fails_the_tenant()
    {
        var (code, output) = Bash("run_hook acme post /srv/tenants/acme/files 'echo \"$FAILOVER_TENANT $PGDATABASE $FAILOVER_FILES_DIR $FAILOVER_REHEARSAL\"; echo warm; exit 3'; echo \"exit=$?\"\n" +
                                  "run_hook acme pre /srv/tenants/acme/files true; echo \"exit=$?\"\n" +
                                  "FAILOVER_REHEARSAL=1\nrun_hook acme post /srv/tenants/acme/files 'echo rehearsal=$FAILOVER_REHEARSAL'");
        Assert.Equal(0, code);
        Assert.Equal("acme post-restore hook: acme acme /srv/tenants/acme/files 0\nacme post-restore hook: warm\nexit=3\nexit=0\n" +
                     "acme post-restore hook: rehearsal=1\n", output);
    }

    [Fact]
    public void A_hook_sees_no_credentials_its_output_is_redacted_and_it_is_killed_after_its_time_limit()
    {
        var result = Bash("""
            export RESTIC_PASSWORD=hunter2-vault-password AWS_SECRET_ACCESS_KEY=aws-secret-value
            SECRETS=("$RESTIC_PASSWORD" "$AWS_SECRET_ACCESS_KEY")
            run_hook acme post /x 'echo "password=${RESTIC_PASSWORD:-none} key=${AWS_SECRET_ACCESS_KEY:-none}"; echo "read hunter2-vault-password from a file"'
            HOOK_TIMEOUT=1 run_hook acme pre /x 'sleep 30'; echo "exit=$?"
            """);
        Assert.Equal("acme post-restore hook: password=none key=none\nacme post-restore hook: read [redacted] from a file\n" +
                     "acme pre-restore hook: killed after 1s\nexit=124\n", result.Output);
    }

    [Fact]
    public void The_script_with_hooks_passes_shellcheck()
    {
        RequireOnPath("shellcheck");
        var t = SiteStacks.FailedOverToHel1WithHooks(PreHook, PostHook);
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        var script = BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, RestoreRecipe.For(t, plan.Stack, 4)));
        var result = Run("shellcheck", "-s bash -S warning", script);
        Assert.True(result.Code == 0, result.Output);
        Assert.Equal(0, Run("bash", "-n", script).Code);
    }

    [Fact]
    public void A_single_job_pipes_the_dump_into_pg_restore_without_spooling()
    {
        var t = SiteStacks.FailedOverToHel1();
        var recipe = RestoreRecipe.For(t, t.Find("standby-hel1")!, 1)!;
        var northwind = recipe.Tenants.Single(x => x.Tenant.Name == "northwind");
        Assert.DoesNotContain(northwind.Steps, s => s.Kind is RestoreStepKind.FetchDump or RestoreStepKind.RemoveDump);
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        Assert.Contains("PG_JOBS=1 ", BootstrapScript.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe)));
    }

    [Fact]
    public void A_standby_without_snapshots_has_no_recipe()
    {
        var t = SiteStacks.Load();
        Assert.Null(RestoreRecipe.For(t, t.Find("standby-hel1")!, 4));
    }

    [Fact]
    public void The_script_names_every_tenant_s_snapshot_id()
    {
        var script = DataServerScript();
        var (_, recipe) = Hel1();
        Assert.Equal(SiteStacks.Tenants.Order(), recipe.Tenants.Select(t => t.Tenant.Name).Order());
        Assert.Contains(recipe.RenderData(), script);
        Assert.Contains("\nwrite_health \"$STACK\" \"$SERVER\" /var/lib/failover/www/health\n", script); // the health document reports them
    }

    [Fact]
    public void A_tenant_that_fails_is_dropped_reported_by_name_and_the_others_are_still_restored()
    {
        RequireOnPath("jq");
        var result = Bash($$"""
            STATE="$TMPDIR/state" TENANTS="$TMPDIR/tenants" SPOOL="$TMPDIR/spool"; mkdir -p "$STATE" "$TENANTS/contoso/files"
            declare -A tenant=([111]=fabrikam [222]=contoso [333]=northwind [444]=litware)
            restore_tenant() {
              [ "$1" = 555 ] && return 1 # never resolved to a tenant
              printf '%s' "${tenant[$1]}" > "$5"
              if [ "$1" = 222 ]; then return 1; fi; sleep 0.$((RANDOM % 3)); echo noise; echo "${tenant[$1]} full-$1" >&3
            }
            runuser() { shift 3; echo "$*" >> "$TMPDIR/dropped"; }
            restore_point {{Records(("111", "1"), ("222", "2"), ("555", "5"), ("333", "3"), ("444", "4"))}}
            restore_all 2 2>/dev/null
            write_health standby-hel1 standby-hel1-db-1 "$TMPDIR/health"
            cat "$TMPDIR/health"; cat "$TMPDIR/dropped"; echo "failed=$failed_count"; [ -e "$TENANTS/contoso" ] || echo "files removed"
            """);
        Assert.Equal(0, result.Code);
        var expected = HealthDocument.Render("standby-hel1", "standby-hel1-db-1",
            new Dictionary<string, string> { ["fabrikam"] = "full-111", ["northwind"] = "full-333", ["litware"] = "full-444" }, ["contoso", "555"]);
        Assert.Equal($"{expected}\ndropdb --if-exists -- contoso\nfailed=2\nfiles removed\n", result.Output);
    }

    [Fact]
    public void Tenants_are_restored_parallelism_at_a_time()
    {
        // Each restore holds until the pool has as many under way as it may (or every record has started): a sleep instead
        // let the first restore end before the third had started on a loaded machine (max=2). A pool that starts fewer at
        // once never releases them and the restores give up after 30 s (max below 3); one that starts more shows them.
        var result = Bash($$"""
            STATE="$TMPDIR/state"; mkdir -p "$STATE"
            restore_tenant() {
              echo start >> "$TMPDIR/events"
              local i=0 started running
              while [ $i -lt 600 ]; do
                started=$(grep -c start "$TMPDIR/events"); running=$((started - $(grep -c end "$TMPDIR/events")))
                [ "$running" -ge 3 ] || [ "$started" -eq 7 ] && break
                sleep 0.05; i=$((i + 1))
              done
              echo end >> "$TMPDIR/events"; echo "x $1" >&3
            }
            jq() { cat > /dev/null; echo '{}'; }
            restore_point {{Records(("a1", "c"), ("b1", "c"), ("c1", "c"), ("d1", "c"), ("e1", "c"), ("f1", "c"), ("a2", "c"))}}
            restore_all 3 2>/dev/null
            awk '/start/ { n++; if (n > max) max = n } /end/ { n-- } END { print "max=" max }' "$TMPDIR/events"; ls "$STATE" | wc -l
            """);
        Assert.Equal((0, "max=3\n7\n"), (result.Code, result.Output));
        var (plan, recipe) = Hel1();
        Assert.Equal(SiteStacks.Load().RestoreOn(plan.Stack).Parallelism, recipe.Parallelism);
        Assert.Contains($"\nrestore_all {recipe.Parallelism}\n", DataServerScript());
    }

    [Fact]
    public void The_run_is_read_from_the_database_snapshot_s_tags_and_a_refused_id_is_logged_with_the_reason()
    {
        RequireOnPath("jq"); // the standby installs jq too
        const string snapshots = """[{"id":"9f8e7d6c00","tags":["failover","tenant=northwind","run=20261122T095040Z-3fa2c1","part=db"]}]""";
        var found = Bash($"restic() {{ echo '{snapshots}'; }}\nsnapshot_run 9f8e7d6c {Check("northwind")}");
        Assert.Equal((0, "9f8e7d6c00 20261122T095040Z-3fa2c1 northwind"), (found.Code, found.Output.Split('\n')[1])); // the log line first, then stdout
        Assert.Contains("northwind: database snapshot 9f8e7d6c is from backup run 20261122T095040Z-3fa2c1", found.Output);
        // An id of another tenant, or of the files part, is refused rather than restored as this tenant's database, and says why.
        var other = Bash($"restic() {{ echo '{snapshots}'; }}\nsnapshot_run 9f8e7d6c {Check("contoso")}");
        Assert.NotEqual(0, other.Code);
        Assert.Contains("database snapshot 9f8e7d6c refused: it is a snapshot of tenant 'northwind', not of the tenant this restore point names", other.Output);
        var files = Bash($"restic() {{ echo '{snapshots.Replace("part=db", "part=files")}'; }}\nsnapshot_run 9f8e7d6c {Check("northwind")}");
        Assert.Contains("refused: it is not a database part", files.Output);
        // restic's warnings go to stderr beside the JSON on stdout: the list is still read.
        var warned = Bash($"restic() {{ echo 'Ignoring \"deadbeef\": no matching ID found' >&2; echo '{snapshots}'; }}\nsnapshot_run 9f8e7d6c {Check("northwind")}");
        Assert.Equal((0, "9f8e7d6c00 20261122T095040Z-3fa2c1 northwind"), (warned.Code, warned.Output.Split('\n')[1]));
        var missing = Bash("restic() { echo 'Fatal: no matching ID found for prefix \"9f8e7d6c\"' >&2; return 1; }\nsnapshot_run 9f8e7d6c 00");
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("refused: restic cannot find it (Fatal: no matching ID found for prefix \"9f8e7d6c\")", missing.Output);
    }

    [Fact]
    public void A_row_count_or_checksum_that_differs_from_the_manifest_fails_the_tenant_and_is_named()
    {
        RequireOnPath("jq");
        const string manifest = """{"database":{"tables":[{"schema":"public","name":"customers","rows":300,"checksum":"r:1-2"},{"schema":"public","name":"invoices","rows":1000,"checksum":"r:3-4"}]}}""";
        // psql stands in: the list of tables, then each table's "rows<tab>checksum" (the SQL it is sent is TableChecksums').
        string Check(string invoices, string tables = "public\tcustomers\npublic\tinvoices\n") => $$"""
            runuser() { shift 3; "$@"; }
            psql() {
              local sql; sql=$(cat)
              case "$sql$*" in
                *pg_namespace*) printf '{{tables}}' ;;
                *hash_record_extended*name=invoices*) {{invoices}} ;;
                *hash_record_extended*) printf '300\tr:1-2\n' ;;
                *) return 1 ;;
              esac
            }
            echo '{{manifest}}' > "$TMPDIR/m.json"
            verify_rows northwind "$TMPDIR/m.json"
            """;
        Assert.Equal(0, Bash(Check("printf '1000\tr:3-4\n'")).Code);
        var oneShort = Bash(Check("printf '999\tr:3-4\n'"));
        Assert.NotEqual(0, oneShort.Code);
        Assert.Contains("table public.invoices has 999 rows, the backup had 1000", oneShort.Output);
        // The count alone is not the check: the same count with other contents fails too, as in the driver's restore.
        var tampered = Bash(Check("printf '1000\tr:3-5\n'"));
        Assert.NotEqual(0, tampered.Code);
        Assert.Equal("table public.invoices has 1000 rows as in the backup but different contents\n", tampered.Output);
        var missing = Bash(Check("return 1", "public\\tcustomers\\n"));
        Assert.Equal((1, "table public.invoices is missing (1000 rows in the backup)\n"), (missing.Code, missing.Output));
        var unreadable = Bash(Check("return 1"));
        Assert.NotEqual(0, unreadable.Code);
        Assert.Contains("the tables of northwind cannot be read", unreadable.Output);
        var extra = Bash(Check("printf '1000\tr:3-4\n'", "public\\tcustomers\\npublic\\tinvoices\\npublic\\tzz_new\\n"));
        Assert.Equal((1, "table public.zz_new was not in the backup\n"), (extra.Code, extra.Output));
    }

    [Fact]
    public void Restored_files_are_compared_with_the_manifest_s_digests()
    {
        RequireOnPath("jq");
        const string manifest = """{"files":{"count":1,"entries":[{"path":"uploads/logo.bin","size":6,"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}]}}""";
        string Check(string content) => $"""
            mkdir -p "$TMPDIR/files/uploads"; printf '{content}' > "$TMPDIR/files/uploads/logo.bin"
            echo '{manifest}' > "$TMPDIR/m.json"
            verify_files "$TMPDIR/files" "$TMPDIR/m.json"
            """;
        Assert.Equal(0, Bash(Check("hello\\n")).Code);
        var changed = Bash(Check("hellO\\n"));
        Assert.NotEqual(0, changed.Code);
        Assert.Contains("file uploads/logo.bin differs from the backup", changed.Output);
    }

    [Fact]
    public void The_rendered_script_is_valid_bash()
    {
        var (plan, recipe) = Hel1();
        foreach (var server in plan.Servers)
        {
            var result = Run("bash", "-n", BootstrapScript.Render(ServerBootstrap.For(plan, server, recipe)));
            Assert.True(result.Code == 0, $"{server.Name}: {result.Output}");
        }
    }

    [Fact]
    public void The_rendered_script_passes_shellcheck_when_installed()
    {
        RequireOnPath("shellcheck");
        var result = Run("shellcheck", "-s bash -S warning", DataServerScript());
        Assert.True(result.Code == 0, result.Output);
    }

    [Fact]
    public void The_password_reaches_only_the_root_only_credentials_file()
    {
        var (plan, recipe) = Hel1();
        var boot = ServerBootstrap.For(plan, plan.DataServer!, recipe);
        Assert.DoesNotContain(Password, BootstrapScript.Render(boot));
        var cloudConfig = CloudConfig.Render(boot, Credentials);
        var envFile = cloudConfig[cloudConfig.IndexOf("path: /etc/failover/restic.env", StringComparison.Ordinal)..];
        Assert.Contains("permissions: '0600'", envFile[..200]);
        Assert.Equal(cloudConfig.IndexOf(Password, StringComparison.Ordinal), cloudConfig.LastIndexOf(Password, StringComparison.Ordinal));
        Assert.True(cloudConfig.IndexOf(Password, StringComparison.Ordinal) > cloudConfig.IndexOf("path: /etc/failover/restic.env", StringComparison.Ordinal));
        Assert.DoesNotContain(Password, Credentials.ToString());
    }

    [Fact]
    public void A_restoring_server_cannot_be_rendered_without_credentials()
    {
        var (plan, recipe) = Hel1();
        Assert.Throws<ArgumentException>(() => CloudConfig.Render(ServerBootstrap.For(plan, plan.DataServer!, recipe), null));
    }

    [Fact]
    public void Only_the_data_server_installs_postgresql_and_restores()
    {
        var (plan, recipe) = Hel1();
        var app = BootstrapScript.Render(ServerBootstrap.For(plan, plan.FrontServer!, recipe));
        Assert.Contains("\napt_install python3\n", app);
        Assert.DoesNotContain("restic", app);
        Assert.DoesNotContain("configure_postgres 10", app);
        Assert.Contains("\napt_install postgresql restic jq python3\n", DataServerScript());
        Assert.Contains("\nconfigure_postgres 10.0.1.0/24\n", DataServerScript());
    }

    [Fact]
    public void The_application_unit_starts_after_the_restore()
    {
        var t = SiteStacks.With("standby-hel1", "  failover:service:\n    unit: acme-app.service\n");
        var plan = SitePlan.For(t.Find("standby-hel1")!);
        var script = BootstrapScript.Render(new ServerBootstrap(plan.Stack.Name, "x", true, null, plan.Stack.Service, []));
        Assert.Contains("systemctl enable --now acme-app.service", script);
    }

    [Theory]
    [InlineData("plain-word_1.2", "plain-word_1.2")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("$HOME", "'$HOME'")]
    public void Shell_quoting_keeps_words_literal(string word, string quoted) => Assert.Equal(quoted, Sh.Quote(word));

    /// <summary>Runs bash with the recipe's functions defined, in a temp directory ($TMPDIR) deleted afterwards.</summary>
    private static string Records(params (string Id, string Check)[] records) => RestoreRecipe.EncodeRecords(records);

    private static string Check(string tenant) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(tenant)))[..RestoreRecipe.NameCheckLength];

    internal static (int Code, string Output) Bash(string body)
    {
        var dir = Directory.CreateTempSubdirectory("failover-recipe-").FullName;
        try
        {
            var script = $"set -uo pipefail\nexec 2>&1\nTMPDIR={Sh.Quote(dir)}\ncd \"$TMPDIR\" || exit 1\nlog() {{ echo \"$*\" >&2; }}\nfail() {{ echo \"$*\" >&2; }}\n" +
                         BootstrapScript.Functions.Render() + "\n" + RestoreRecipe.Functions.Render() + "\n" + body + "\n";
            return Run("bash", "", script);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>The gzip the user data had before the records got blocks of their own, to measure what that saves.</summary>
    internal static byte[] GzipInOneBlock(string text)
    {
        using var buffer = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
            gz.Write(System.Text.Encoding.UTF8.GetBytes(text));
        return buffer.ToArray();
    }

    /// <summary>These checks run the real tool; ./test.sh installs it (Debian package of the same name).</summary>
    internal static void RequireOnPath(string tool) =>
        Assert.True(OnPath(tool), $"{tool} is not installed: run ./test.sh as root (it installs it) or apt-get install {tool}");

    internal static (int Code, string Output) Run(string tool, string options, string script)
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, script);
        try
        {
            var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var o in options.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(o);
            psi.ArgumentList.Add(file);
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        finally { File.Delete(file); }
    }
}
