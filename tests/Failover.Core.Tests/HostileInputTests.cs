using System.Diagnostics;
using Failover.Core.Topology;

namespace Failover.Core.Tests;

/// <summary>
/// Stack files built to break the tool (names that carry commands or line breaks, alias bombs, cycles, deep nesting,
/// files that never end) are refused with the file, key and line named, never a hang, a crash or a trace.
/// </summary>
public class HostileInputTests
{
    public static IEnumerable<object[]> HostileNames() =>
        new[] { "db\ntouch /tmp/x #", "db\rbootcmd: [id]", "db\u2028bootcmd: [id]", "db\u2029x", "db\u0085x", "db$(id)", "db x", "Db", "db\u0000" }
            .Select(n => new object[] { n });

    private static string Quoted(string value) => "\"" + string.Concat(value.Select(c => c switch
    {
        '"' => "\\\"", '\\' => "\\\\",
        _ when char.IsControl(c) || c is '\u2028' or '\u2029' => $"\\u{(int)c:X4}",
        _ => c.ToString(),
    })) + "\"";

    [Theory]
    [MemberData(nameof(HostileNames))]
    public void A_server_group_name_that_is_not_plain_is_refused_naming_file_key_and_line(string name)
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "    - name: db\n", $"    - name: {Quoted(name)}\n");
        var p = s.Problem();
        Assert.EndsWith("Pulumi.prod-fsn1.yaml", p.File);
        Assert.Equal("failover:servers[0].name", p.Key);
        Assert.Equal(10, p.Line);
        Assert.DoesNotContain('\n', p.Message);
        Assert.DoesNotContain('\r', p.Message);
        // Plain but unusable names get the naming rule; control characters and line breaks are refused as such.
        Assert.True(p.Fix.Contains("lower-case letters") || p.Message.Contains("control character or line break"), p.ToString());
    }

    [Theory]
    [InlineData("db\u2028x")]
    [InlineData("db\rx")]
    [InlineData("db\u0085x")]
    public void A_line_break_in_any_name_is_refused(string value)
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "vaults: [vault-aws-par]", $"vaults: [{Quoted(value)}]");
        var p = s.Problem();
        Assert.Equal("failover:backup.vaults[0]", p.Key);
        Assert.Contains("line break", p.Message);
    }

    [Theory]
    [InlineData("Pulumi.sb$(touch x).yaml")]
    [InlineData("Pulumi.sb`id`.yaml")]
    [InlineData("Pulumi.sb x.yaml")]
    [InlineData("Pulumi.Prod.yaml")]
    public void A_stack_file_whose_name_is_not_a_plain_stack_name_is_refused_naming_the_file(string fileName)
    {
        using var s = Scenario.Local();
        File.Copy(s.PathOf("local-standby"), Path.Combine(s.Stacks, fileName));
        var p = s.Problem();
        Assert.EndsWith(fileName, p.File);
        Assert.Equal("(file)", p.Key);
        Assert.Contains("rename the file", p.Fix);
    }

    [Theory]
    [InlineData("a: &a [*a]", "cycle")]
    [InlineData("a: &a {b: *a}", "cycle")]
    public void A_self_referencing_alias_is_refused(string yaml, string expected)
    {
        using var s = Scenario.Local();
        s.Write("local-vault", "config:\n  failover:role: vault\n" + "  other:\n    " + yaml + "\n");
        var p = Load(s);
        Assert.Equal("(yaml)", p.Key);
        Assert.Contains(expected, p.Message);
        Assert.EndsWith("Pulumi.local-vault.yaml", p.File);
    }

    [Fact]
    public void An_alias_bomb_is_refused_before_it_expands()
    {
        using var s = Scenario.Local();
        var lines = new List<string> { "config:", "  failover:role: vault", "  x:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 12; i++) lines.Add($"    a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]");
        s.Write("local-vault", string.Join("\n", lines) + "\n");
        var p = Load(s);
        Assert.Contains("expands to more than", p.Message);
        Assert.NotNull(p.Line);
    }

    [Theory]
    [InlineData(50_000, true)]
    [InlineData(200, false)]
    public void Deep_nesting_is_refused_not_a_stack_overflow(int depth, bool flow)
    {
        using var s = Scenario.Local();
        var nested = flow
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Range(0, 200).Select(i => "\n" + new string(' ', 4 + 2 * i) + "- "));
        s.Write("local-vault", "config:\n  failover:role: vault\n  x: " + nested + "x\n");
        var p = Load(s);
        Assert.Contains("nested more than", p.Message);
    }

    [Fact]
    public void A_fifo_as_a_stack_file_is_refused_naming_it()
    {
        using var s = Scenario.Local();
        var fifo = s.PathOf("local-extra");
        Run("mkfifo", fifo);
        var p = Load(s);
        Assert.EndsWith("Pulumi.local-extra.yaml", p.File);
        Assert.Contains("not a regular file (a FIFO)", p.Message);
    }

    [Fact]
    public void A_link_to_dev_zero_as_a_stack_file_is_refused_naming_it()
    {
        using var s = Scenario.Local();
        File.CreateSymbolicLink(s.PathOf("local-extra"), "/dev/zero");
        var p = Load(s);
        Assert.EndsWith("Pulumi.local-extra.yaml", p.File);
        Assert.Contains("not a regular file (a character device)", p.Message);
    }

    [Fact]
    public void A_stack_file_larger_than_the_bound_is_refused()
    {
        using var s = Scenario.Local();
        File.WriteAllText(s.PathOf("local-extra"), "config:\n  failover:role: vault\n" + string.Concat(Enumerable.Range(0, 40_000).Select(i => $"  k{i}: {new string('x', 20)}\n")));
        var p = Load(s);
        Assert.Contains("larger than", p.Message);
    }

    [Theory]
    [InlineData("[v1:a, v1:b]", "a list")]
    [InlineData("{ a: v1:x }", "a mapping")]
    [InlineData("\"\"", "empty")]
    [InlineData("", "empty")]
    public void A_secure_value_that_is_not_a_ciphertext_is_refused(string value, string expected)
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "    secure: v1:Q2lwaGVydGV4dEV4YW1wbGU6bm90LWEtcmVhbC10b2tlbg==", "    secure: " + value);
        var p = s.Problem();
        Assert.Equal("hcloud:token", p.Key);
        Assert.Contains(expected, p.Message);
        Assert.Contains("pulumi config set --secret hcloud:token", p.Fix);
    }

    [Fact]
    public void A_secure_dns_api_key_holding_a_list_is_refused_not_a_crash()
    {
        using var s = Scenario.Cloud();
        s.Edit("dns-route53", "    ttl: 60", "    ttl: 60\n    apiKey:\n      secure: [a, b]");
        var p = s.Problem();
        Assert.Equal("failover:dns.apiKey", p.Key);
        Assert.Contains("a list", p.Message);
    }

    [Fact]
    public void Every_ciphertext_of_a_stack_file_is_known_for_redaction()
    {
        var t = TopologyLoader.Load(Examples.CloudStacks);
        Assert.Contains("v1:Q2lwaGVydGV4dEV4YW1wbGU6bm90LWEtcmVhbC10b2tlbg==", t.Find("prod-fsn1")!.SecretCiphertexts);
    }

    [Fact]
    public void The_same_stack_as_yaml_and_yml_is_refused_naming_both()
    {
        using var s = Scenario.Local();
        File.Copy(s.PathOf("local-standby"), Path.Combine(s.Stacks, "Pulumi.local-standby.yml"));
        var p = s.Problem();
        Assert.Contains("defined twice", p.Message);
        Assert.Contains("Pulumi.local-standby.yml", p.Message);
    }

    [Theory]
    [InlineData(".", "empty")]
    [InlineData("a..b", "empty label")]
    [InlineData("exa mple.com", "holds a character")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "longer than 63")]
    public void A_zone_that_is_not_a_dns_name_is_refused_at_load(string zone, string expected)
    {
        using var s = Scenario.Cloud();
        s.Edit("dns-route53", "zone: example.com", $"zone: \"{zone}\"");
        var p = s.Problem();
        Assert.Equal("failover:dns.zone", p.Key);
        Assert.Contains(expected, p.Message);
    }

    [Fact]
    public void A_vault_listed_twice_is_refused()
    {
        using var s = Scenario.Cloud();
        s.Edit("prod-fsn1", "vaults: [vault-aws-par]", "vaults: [vault-aws-par, vault-aws-par]");
        var p = s.Problem();
        Assert.Equal("failover:backup.vaults", p.Key);
        Assert.Contains("listed twice", p.Message);
    }

    [Fact]
    public void A_dns_server_on_port_0_is_refused()
    {
        using var s = Scenario.Local();
        s.Edit("local-dns", "servers: [127.0.0.14:53]", "servers: [127.0.0.14:0]");
        var p = s.Problem();
        Assert.Equal("failover:dns.servers[0]", p.Key);
    }

    /// <summary>Loads with the test's own time bound: a hang fails the test instead of the suite.</summary>
    private static TopologyProblem Load(Scenario s)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var load = Task.Run(() => Assert.Throws<TopologyException>(() => s.Load()));
        try { load.Wait(bound.Token); }
        catch (OperationCanceledException) { Assert.Fail("loading the stack files did not end"); }
        return load.Result.Problems[0];
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args))!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
