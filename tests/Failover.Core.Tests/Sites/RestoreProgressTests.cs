using System.Text.Json;
using Failover.Core.Sites;

namespace Failover.Core.Tests.Sites;

/// <summary>
/// The restore's progress in the health document, written by the recipe's own bash while it restores, and read back
/// the way the driver's cloud restore wait reads it.
/// </summary>
public class RestoreProgressTests
{
    [Fact]
    public void While_restoring_the_document_names_each_tenant_under_way_with_its_last_step_and_bytes_and_the_dump_counts_after_its_removal()
    {
        UserDataTests.RequireOnPath("jq");
        var result = UserDataTests.Bash($$"""
            STATE="$TMPDIR/state" TENANTS="$TMPDIR/tenants" SPOOL="$TMPDIR/spool"; mkdir -p "$STATE" "$SPOOL" "$TENANTS/contoso/files"
            restore_point {{RestoreRecipe.EncodeRecords([("111", "1"), ("222", "2"), ("333", "3"), ("444", "4")])}}
            # 111 restored, 222 under way (manifest fetched, 1000 bytes of dump so far), 333 failed, 444 not started.
            printf '%s' fabrikam > "$STATE/0.name"; echo '{"fabrikam":"full-111"}' > "$STATE/0.ok"
            printf '%s' contoso > "$STATE/1.name"; printf 'find-run\tpassed\nfetch-manifest\tpassed\n' > "$STATE/1.verdicts"
            echo '{"bytes": 5000}' > "$SPOOL/contoso.manifest.json"; head -c 1000 /dev/zero > "$SPOOL/contoso.dump"
            printf '%s' northwind > "$STATE/2.name"; : > "$STATE/2.failed"
            write_health standby-hel1 standby-hel1-db-1 "$TMPDIR/health" restoring; cat "$TMPDIR/health"
            # The dump is restored and removed, the files arrive: the dump's bytes still count.
            printf 'create-database\tpassed\nfetch-dump\tpassed\nrestore-database\tpassed\nremove-dump\tpassed\n' >> "$STATE/1.verdicts"
            rm "$SPOOL/contoso.dump"; head -c 3000 /dev/zero > "$TENANTS/contoso/files/upload.bin"
            write_health standby-hel1 standby-hel1-db-1 "$TMPDIR/health" restoring; cat "$TMPDIR/health"
            """);
        Assert.True(result.Code == 0 && result.Output.Split('\n').Length >= 2, result.Output);
        var (first, second) = (result.Output.Split('\n')[0], result.Output.Split('\n')[1]);

        using var doc = JsonDocument.Parse(first);
        Assert.Equal(HealthDocument.Restoring, doc.RootElement.GetProperty("status").GetString());
        Assert.Equal("full-111", doc.RootElement.GetProperty("snapshots").GetProperty("fabrikam").GetString());
        Assert.Equal(["northwind"], doc.RootElement.GetProperty("failed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["contoso"], doc.RootElement.GetProperty(HealthDocument.ProgressKey).EnumerateObject().Select(p => p.Name));
        var early = HealthDocument.ProgressOf(first, "contoso");
        Assert.True(early is not null, result.Output);
        Assert.Equal(("fetch-manifest", 5000L), (early!.Passed, early.Total));
        Assert.Equal(1000, early!.Done); // the dump so far

        var later = HealthDocument.ProgressOf(second, "contoso");
        Assert.True(later is not null, result.Output);
        Assert.Equal("remove-dump", later!.Passed);
        Assert.Equal(4000, later!.Done); // 1000 of dump (kept once seen) + 3000 of files
        Assert.Null(HealthDocument.ProgressOf(second, "litware"));
    }

    [Theory]
    [InlineData("", 0, 0, 0)]               // nothing yet, no manifest: no total to count against
    [InlineData("fetch-dump", 9000, 4000, 4000)] // never above the total
    [InlineData("restore-files", 100, 4000, 4000)]
    [InlineData("post-hook-2", 0, 4000, 4000)]
    [InlineData("restore-database", 1500, 4000, 1500)]
    public void The_bytes_done_are_what_is_on_disk_until_the_files_are_restored_then_the_total(string passed, long bytes, long total, long done) =>
        Assert.Equal(done, new TenantProgress(passed, bytes, total).Done);

    [Fact]
    public void The_loop_keeps_the_document_current_takes_no_restore_slot_and_never_writes_after_the_final_document()
    {
        UserDataTests.RequireOnPath("jq");
        var result = UserDataTests.Bash($$"""
            STATE="$TMPDIR/state" TENANTS="$TMPDIR/tenants" SPOOL="$TMPDIR/spool" STACK=s SERVER=s-db-1 PROGRESS_EVERY=0.1; mkdir -p "$STATE" "$SPOOL"
            restore_tenant() {
              printf '%s' "t$1" > "$5"; echo start >> "$TMPDIR/events"
              for _ in {1..50}; do [ -e "$TMPDIR/health" ] && break; sleep 0.1; done # the loop's first document, however loaded the machine
              jq -r .status "$TMPDIR/health" >> "$TMPDIR/seen"; sleep 0.3; echo end >> "$TMPDIR/events"; echo "t$1 $1" >&3
            }
            restore_point {{RestoreRecipe.EncodeRecords([("a1", "c"), ("b1", "c"), ("c1", "c"), ("d1", "c"), ("e1", "c"), ("f1", "c")])}}
            {{RestoreRecipe.Functions.RestoreWatched(3, "health")}} # relative: the script runs in $TMPDIR
            write_health "$STACK" "$SERVER" "$TMPDIR/health"
            final=$(cat "$TMPDIR/health"); sleep 0.5
            awk '/start/ { n++; if (n > max) max = n } /end/ { n-- } END { print "max=" max }' "$TMPDIR/events"
            [ "$(cat "$TMPDIR/health")" = "$final" ] && echo "final kept"; jq -r .status "$TMPDIR/health"; sort -u "$TMPDIR/seen"
            """);
        Assert.True(result.Output.EndsWith("max=3\nfinal kept\nready\nrestoring\n", StringComparison.Ordinal), result.Output);
    }
}
