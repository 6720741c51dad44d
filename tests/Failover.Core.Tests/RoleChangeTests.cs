using Failover.Core.Policies;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>
/// `failover migrate` moves production to a standby by rewriting the stack files: these tests edit copies of the
/// example topologies with <see cref="RoleChange"/>, write the edits and read the files back with the loader.
/// </summary>
public class RoleChangeTests
{
    private const string Marker = "# " + RoleChange.AddedModeComment;

    /// <summary>The example, the standby production moves to, and the standby's mode in the example.</summary>
    public static TheoryData<string, string, SiteMode> Examples => new()
    {
        { "local", "local-standby", SiteMode.Cold },
        { "cloud", "standby-hel1", SiteMode.Cold },
    };

    private static Scenario Open(string example) => example == "local" ? Scenario.Local() : Scenario.Cloud();

    private static Dictionary<string, string> Texts(Scenario s) =>
        Directory.GetFiles(s.Stacks, "Pulumi.*.yaml").ToDictionary(f => Path.GetFileName(f), f => File.ReadAllText(f));

    /// <summary>Writes the edits as the driver would: each to its file, which must still hold the text the edit started from.</summary>
    private static void Write(IReadOnlyList<StackFileEdit> edits)
    {
        foreach (var e in edits)
        {
            Assert.Equal(e.Before, File.ReadAllText(e.File));
            File.WriteAllText(e.File, e.After);
        }
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Promoting_a_standby_makes_it_production_with_the_same_tenants_backup_targets_and_policy(string example, string standby, SiteMode _)
    {
        using var s = Open(example);
        var before = s.Load();
        var untouched = Texts(s).Where(kv => kv.Key.Contains("vault") || (!kv.Key.Contains(standby) && kv.Key.Contains("standby"))).ToList();
        var errorsBefore = PolicyBook.Evaluate(before).Where(f => f.Severity == Severity.Error).Select(f => f.PolicyId).ToHashSet();

        var edits = RoleChange.Promote(before, standby, SiteMode.Fenced);
        Assert.Equal(3, edits.Count); // the two sites and the dns stack
        Assert.All(edits, e => Assert.StartsWith(s.Stacks, e.File));
        Write(edits);
        var after = s.Load();

        Assert.Equal(standby, after.Production.Name);
        Assert.Equal(before.Tenants.Select(t => (t.Name, t.Tier, t.DataGb, t.PostRestore.Count)), after.Tenants.Select(t => (t.Name, t.Tier, t.DataGb, t.PostRestore.Count)));
        Assert.Equal(before.Backup.Vaults, after.Backup.Vaults);
        Assert.Equal((before.Backup.Interval, before.Backup.Retention), (after.Backup.Interval, after.Backup.Retention));
        Assert.Equal(before.Targets, after.Targets);
        Assert.Equal(before.Policy.Jurisdictions, after.Policy.Jurisdictions);
        Assert.Equal(before.Policy.Accepted, after.Policy.Accepted);
        Assert.Equal(before.Production.Restore, after.Production.Restore);

        var former = after.Find(before.Production.Name)!;
        Assert.Equal((Role.Standby, SiteMode.Fenced), (former.Role, former.Mode));
        Assert.Equal(before.Production.Site, former.Site);
        Assert.Equal(before.Production.Servers.Select(g => g.Name), former.Servers.Select(g => g.Name));
        Assert.Equal(SiteMode.Full, after.Production.Mode);
        Assert.Equal(standby, after.DnsStack!.Dns!.ActiveStack);
        Assert.All(untouched, kv => Assert.Equal(kv.Value, File.ReadAllText(Path.Combine(s.Stacks, kv.Key))));

        // The same rules hold with production elsewhere: the standbys are still outside its failure domain.
        var errorsAfter = PolicyBook.Evaluate(after).Where(f => f.Severity == Severity.Error).Select(f => f.PolicyId).ToHashSet();
        Assert.Subset(errorsBefore, errorsAfter);
        Assert.DoesNotContain(PolicyBook.Evaluate(after), f => f.PolicyId == PolicyBook.DnsActiveNotProduction.Id);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Failback_gives_back_every_file_byte_for_byte(string example, string standby, SiteMode standbyMode)
    {
        using var s = Open(example);
        var original = Texts(s);
        var production = s.Load().Production.Name;

        Write(RoleChange.Promote(s.Load(), standby, SiteMode.Fenced));
        Assert.NotEqual(original, Texts(s));
        Write(RoleChange.Promote(s.Load(), production, standbyMode));

        Assert.Equal(original, Texts(s));
    }

    [Fact]
    public void A_former_production_without_a_mode_line_gets_one_that_says_who_added_it()
    {
        using var s = Scenario.Local();
        var edit = RoleChange.Promote(s.Load(), "local-standby", SiteMode.Cold).Single(e => e.File.EndsWith("local-prod.yaml"));

        Assert.Contains("    jurisdiction: DE\n  failover:mode: cold " + Marker + "\n  failover:servers:\n", edit.After);
    }

    [Fact]
    public void A_former_production_with_a_mode_line_has_it_set_in_place()
    {
        using var s = Scenario.Cloud();
        var edit = RoleChange.Promote(s.Load(), "standby-aws-fra", SiteMode.Cold).Single(e => e.File.EndsWith("prod-fsn1.yaml"));

        Assert.Contains("  failover:mode: cold\n", edit.After);
        Assert.DoesNotContain("failover:mode: full", edit.After);
        Assert.DoesNotContain(Marker, edit.After);
    }

    [Fact]
    public void Comments_move_with_their_keys_and_stay_everywhere_else()
    {
        using var s = Scenario.Local()
            .Edit("local-prod", "  failover:tenants:\n", "  # Who we serve, most important first.\n  failover:tenants:\n")
            .Edit("local-prod", "    retention: 30d\n", "    retention: 30d # one week of restore points\n");
        var edits = RoleChange.Promote(s.Load(), "local-standby", SiteMode.Fenced);
        var prod = edits.Single(e => e.File.EndsWith("local-prod.yaml")).After;
        var standby = edits.Single(e => e.File.EndsWith("local-standby.yaml")).After;

        Assert.Contains("  # Who we serve, most important first.\n  failover:tenants:\n    - name: northwind\n", standby);
        Assert.Contains("        # Runs after the tenant's data is verified", standby);
        Assert.Contains("    retention: 30d # one week of restore points\n", standby);
        Assert.DoesNotContain("Who we serve", prod);
        Assert.StartsWith("# Production for the drill: processes on 127.0.0.11", prod);
        Assert.StartsWith("# The standby the drill fails over to:", standby);
    }

    [Fact]
    public void Blank_lines_between_keys_other_key_orders_and_flow_values_survive_a_round_trip()
    {
        using var s = Scenario.Cloud()
            .Write("prod-fsn1", """
                # Production, laid out with blank lines and the deployment keys first.
                config:
                  failover:role: "production"   # quoted, with a comment

                  failover:targets: { rpo: 1h, rto: 4h }

                  # The customers.
                  failover:tenants:
                    - { name: northwind, tier: 1, dataGb: 25 }
                    - { name: contoso, tier: 1, dataGb: 8 }

                  failover:backup: { vaults: [vault-aws-par], schedule: 30m }
                  failover:site:
                    provider: hetzner
                    location: fsn1
                  failover:servers:
                    - { name: db, full: ccx33, mvd: cpx32, volumeGb: 200 }
                  hcloud:token:
                    secure: v1:Q2lwaGVydGV4dEV4YW1wbGU6bm90LWEtcmVhbC10b2tlbg==

                  failover:policy:
                    jurisdictions: [EEA]
                """);
        var original = Texts(s);

        Write(RoleChange.Promote(s.Load(), "standby-hel1", SiteMode.Cold));
        var moved = s.Load();
        Assert.Equal("standby-hel1", moved.Production.Name);
        Assert.Equal(["northwind", "contoso"], moved.Tenants.Select(t => t.Name));
        Assert.Contains("  failover:role: \"standby\"   # quoted, with a comment\n", File.ReadAllText(s.PathOf("prod-fsn1")));
        // The policy was last, in a file without a final line break: the secret is last now, still without one.
        Assert.EndsWith("  hcloud:token:\n    secure: v1:Q2lwaGVydGV4dEV4YW1wbGU6bm90LWEtcmVhbC10b2tlbg==", File.ReadAllText(s.PathOf("prod-fsn1")));

        Write(RoleChange.Promote(moved, "prod-fsn1", SiteMode.Cold));
        Assert.Equal(original, Texts(s));
    }

    [Fact]
    public void Crlf_files_keep_crlf_and_still_round_trip()
    {
        using var s = Scenario.Local();
        foreach (var f in Directory.GetFiles(s.Stacks, "Pulumi.*.yaml"))
            File.WriteAllText(f, File.ReadAllText(f).Replace("\n", "\r\n"));
        var original = Texts(s);

        var edits = RoleChange.Promote(s.Load(), "local-standby", SiteMode.Fenced);
        Assert.All(edits, e => Assert.Equal(e.After.Count(c => c == '\n'), e.After.Split("\r\n").Length - 1));
        Write(edits);
        Assert.Equal("local-standby", s.Load().Production.Name);

        Write(RoleChange.Promote(s.Load(), "local-prod", SiteMode.Cold));
        Assert.Equal(original, Texts(s));
    }

    [Fact]
    public void The_diff_shows_exactly_the_changed_lines_with_their_hunk_headers()
    {
        var before = string.Concat(Enumerable.Range(1, 14).Select(i => $"line {i}\n"));
        var after = before.Replace("line 2\n", "line two\n").Replace("line 12\n", "").Replace("line 14\n", "line 14\nline 15");
        var diff = new StackFileEdit("/srv/stacks/Pulumi.x.yaml", before, after) { DisplayFile = "stacks/Pulumi.x.yaml" }.Diff();

        Assert.Equal("""
            --- a/stacks/Pulumi.x.yaml
            +++ b/stacks/Pulumi.x.yaml
            @@ -1,5 +1,5 @@
             line 1
            -line 2
            +line two
             line 3
             line 4
             line 5
            @@ -9,6 +9,6 @@
             line 9
             line 10
             line 11
            -line 12
             line 13
             line 14
            +line 15
            \ No newline at end of file

            """.Replace("\r\n", "\n"), diff);
        Assert.Equal("", new StackFileEdit("x", before, before).Diff());
    }

    [Fact]
    public void The_dns_edit_diff_names_the_file_as_the_operator_knows_it()
    {
        using var s = Scenario.Local();
        var topology = TopologyLoader.Load(s.Stacks, displayRoot: s.Root);
        var dns = RoleChange.Promote(topology, "local-standby", SiteMode.Fenced).Single(e => e.File.EndsWith("local-dns.yaml"));

        Assert.Equal(s.PathOf("local-dns"), dns.File);
        Assert.Equal("""
            --- a/stacks/Pulumi.local-dns.yaml
            +++ b/stacks/Pulumi.local-dns.yaml
            @@ -12,6 +12,6 @@
                 records:
                   - { name: app, type: A }
                 ttl: 60
            -    active: local-prod
            +    active: local-standby
                 apiUrl: http://127.0.0.14:8081
                 servers: [127.0.0.14:53]

            """.Replace("\r\n", "\n"), dns.Diff());
    }

    [Fact]
    public void A_dns_mapping_written_in_flow_form_has_only_its_active_stack_changed()
    {
        using var s = Scenario.Local().Write("local-dns", """
            config:
              failover:role: dns
              failover:site: { provider: local, location: lab-dns, address: 127.0.0.14, jurisdiction: DE }
              failover:dns: { provider: powerdns, zone: drill.test, records: [{ name: app }], ttl: 60, active: 'local-prod', apiUrl: http://127.0.0.14:8081 }
            """);
        var dns = RoleChange.Promote(s.Load(), "local-standby", SiteMode.Cold).Single(e => e.File.EndsWith("local-dns.yaml"));

        Assert.Equal(dns.Before.Replace("active: 'local-prod'", "active: 'local-standby'"), dns.After);
    }

    [Fact]
    public void Promoting_the_current_production_changes_nothing()
    {
        using var s = Scenario.Cloud();
        Assert.Empty(RoleChange.Promote(s.Load(), "prod-fsn1", SiteMode.Fenced));
    }

    [Fact]
    public void Promoting_the_production_the_dns_does_not_point_at_moves_only_the_dns()
    {
        using var s = Scenario.Cloud().Edit("dns-route53", "active: prod-fsn1", "active: standby-hel1");
        var edit = Assert.Single(RoleChange.Promote(s.Load(), "prod-fsn1", SiteMode.Fenced));

        Assert.EndsWith("Pulumi.dns-route53.yaml", edit.File);
        Assert.Contains("    active: prod-fsn1\n", edit.After);
    }

    [Fact]
    public void An_unknown_stack_is_refused_naming_it_and_the_standbys()
    {
        using var s = Scenario.Cloud();
        var e = Assert.Throws<ArgumentException>(() => RoleChange.Promote(s.Load(), "standby-hel2", SiteMode.Fenced));

        Assert.Contains("unknown stack 'standby-hel2'", e.Message);
        Assert.Contains("did you mean 'standby-hel1'", e.Message);
        Assert.Contains("standby-aws-fra, standby-hel1", e.Message);
    }

    [Theory]
    [InlineData("vault-aws-par", "vault")]
    [InlineData("dns-route53", "dns")]
    public void A_stack_that_serves_no_traffic_is_refused(string name, string role)
    {
        using var s = Scenario.Cloud();
        var e = Assert.Throws<ArgumentException>(() => RoleChange.Promote(s.Load(), name, SiteMode.Fenced));

        Assert.Contains($"'{name}' is a {role} stack", e.Message);
        Assert.Contains("standby-aws-fra, standby-hel1", e.Message);
    }

    private static TopologyProblem RefusedPromotingTheLocalStandby(Scenario s) =>
        Assert.Single(Assert.Throws<TopologyException>(() => RoleChange.Promote(s.Load(), "local-standby", SiteMode.Fenced)).Problems);

    [Fact]
    public void A_role_written_over_several_lines_is_refused_with_file_key_line_and_fix()
    {
        using var s = Scenario.Local().Edit("local-standby", "  failover:role: standby\n", "  failover:role: >-\n    standby\n");
        var p = RefusedPromotingTheLocalStandby(s);

        Assert.Equal((s.PathOf("local-standby"), "failover:role", 3), (p.File, p.Key, p.Line));
        Assert.Contains("cannot rewrite this safely", p.Message);
        Assert.Contains("failover:role: standby", p.Fix);
    }

    [Fact]
    public void An_active_stack_written_as_a_yaml_alias_is_refused_rather_than_edited_where_the_anchor_stands()
    {
        using var s = Scenario.Local()
            .Edit("local-dns", "  failover:dns:\n", "  drill:primary: &primary local-prod\n  failover:dns:\n")
            .Edit("local-dns", "    active: local-prod\n", "    active: *primary\n");
        Assert.Equal("local-prod", s.Load().DnsStack!.Dns!.ActiveStack);

        var p = RefusedPromotingTheLocalStandby(s);

        Assert.Equal((s.PathOf("local-dns"), "failover:dns.active", 10), (p.File, p.Key, p.Line));
        Assert.Contains("anchor or alias", p.Message);
    }

    [Fact]
    public void A_standby_with_its_own_restore_settings_is_refused_naming_both_files()
    {
        using var s = Scenario.Local().Edit("local-standby", "      volumeGb: 5\n", "      volumeGb: 5\n  failover:restore:\n    parallelism: 4\n");
        var p = RefusedPromotingTheLocalStandby(s);

        Assert.Equal((s.PathOf("local-standby"), "failover:restore"), (p.File, p.Key));
        Assert.Contains(s.PathOf("local-prod"), p.Message);
        Assert.Contains("keep one", p.Fix);
    }

    [Fact]
    public void The_restore_point_of_a_failed_over_standby_is_dropped_when_it_becomes_production()
    {
        using var s = Scenario.Local().Edit("local-standby", "  failover:mode: cold\n", """
              failover:mode: mvd
              failover:restoreFrom: local-vault
              # Set by failover run.
              failover:snapshots:
                northwind: 0a1b2c3d
                contoso: 1a2b3c4d
                tailspin: 2a2b3c4d
                wingtip: 3a2b3c4d
                litware: 4a2b3c4d

            """);
        var edit = RoleChange.Promote(s.Load(), "local-standby", SiteMode.Fenced).Single(e => e.File.EndsWith("local-standby.yaml"));

        Assert.Contains("-  failover:restoreFrom: local-vault\n-  # Set by failover run.\n-  failover:snapshots:\n", edit.Diff());
        Assert.DoesNotContain("failover:snapshots", edit.After);
        Assert.Contains("  failover:mode: full\n", edit.After);
        var production = StackFileReader.Parse(edit.After, "local-standby", edit.File);
        Assert.Equal((Role.Production, SiteMode.Full), (production.Role, production.Mode));
    }

    [Fact]
    public void Reading_the_files_now_starts_from_their_current_text()
    {
        using var s = Scenario.Local();
        var topology = s.Load();
        File.AppendAllText(s.PathOf("local-standby"), "# Added after the topology was loaded.\n");

        var fresh = RoleChange.Promote(topology, "local-standby", SiteMode.Fenced, File.ReadAllText).Single(e => e.File.EndsWith("local-standby.yaml"));
        var loaded = RoleChange.Promote(topology, "local-standby", SiteMode.Fenced).Single(e => e.File.EndsWith("local-standby.yaml"));

        Assert.Equal(File.ReadAllText(s.PathOf("local-standby")), fresh.Before);
        Assert.EndsWith("# Added after the topology was loaded.\n", fresh.After);
        Assert.DoesNotContain("Added after", loaded.Before);
    }

    [Fact]
    public void A_secret_under_a_production_key_is_not_moved_to_another_stack()
    {
        using var s = Scenario.Local();
        var topology = s.Load();
        string Read(string path) => File.ReadAllText(path) + (path.EndsWith("local-prod.yaml")
            ? "  failover:stateBackend:\n    url:\n      secure: v1:c2VjcmV0\n" : "");

        var e = Assert.Throws<TopologyException>(() => RoleChange.Promote(topology, "local-standby", SiteMode.Fenced, Read));

        var p = Assert.Single(e.Problems);
        Assert.Equal((s.PathOf("local-prod"), "failover:stateBackend"), (p.File, p.Key));
        Assert.Contains("secure:", p.Message);
        Assert.DoesNotContain("c2VjcmV0", e.Message);
    }

    [Fact]
    public void Setting_one_config_entry_replaces_its_lines_only_and_adds_a_missing_one_last()
    {
        // What the emulated `pulumi config set` writes (StackEmulation.WriteConfig): the comments, CRLF and other keys stay.
        const string text = "# Standby.\r\nconfig:\r\n  failover:role: standby\r\n  # Where it restores from.\r\n  failover:snapshots:\r\n" +
                            "    contoso: 1111aaaa\r\n    # old\r\n  failover:site: { provider: hetzner, location: hel1 }\r\n  failover:servers: [{ name: db, full: ccx33 }]\r\n";

        var set = StackFileEdit.SetConfig("Pulumi.sb.yaml", text, "failover:snapshots", ["failover:snapshots:", "  contoso: 2222bbbb", "  fabrikam: 3333cccc"]);
        var added = StackFileEdit.SetConfig("Pulumi.sb.yaml", set.After, "failover:mode", ["failover:mode: mvd"]);

        Assert.Equal("# Standby.\r\nconfig:\r\n  failover:role: standby\r\n  # Where it restores from.\r\n  failover:snapshots:\r\n" +
                     "    contoso: 2222bbbb\r\n    fabrikam: 3333cccc\r\n  failover:site: { provider: hetzner, location: hel1 }\r\n  failover:servers: [{ name: db, full: ccx33 }]\r\n", set.After);
        Assert.EndsWith("  failover:servers: [{ name: db, full: ccx33 }]\r\n  failover:mode: mvd\r\n", added.After);
        var read = StackFileReader.Parse(added.After, "sb", "Pulumi.sb.yaml");
        Assert.Equal(SiteMode.Mvd, read.Mode);
        Assert.Equal(["contoso 2222bbbb", "fabrikam 3333cccc"], read.Snapshots.Select(x => $"{x.Tenant} {x.SnapshotId}"));
    }
}
