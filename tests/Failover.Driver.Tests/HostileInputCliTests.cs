using Failover.Driver.Local;

namespace Failover.Driver.Tests;

/// <summary>
/// Hostile or careless stack files through the real commands: exit 3 with the file and key named (never a stack
/// trace with exit 1), nothing deleted outside what the tool made, no ciphertext printed, no path reaching a shell.
/// </summary>
public class HostileInputCliTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("failover-hostile-").FullName;

    public HostileInputCliTests()
    {
        // Reachable by the postgres user, so that without the guard the tools would get as far as the shell.
        File.SetUnixFileMode(_project, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach (var f in Directory.GetFiles(Path.Combine(Repo.Root, "examples", "local")))
            File.Copy(f, Path.Combine(_project, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);

    private void Edit(string stack, string find, string replace)
    {
        var path = Path.Combine(_project, $"Pulumi.{stack}.yaml");
        var text = File.ReadAllText(path);
        Assert.Contains(find, text);
        File.WriteAllText(path, text.Replace(find, replace));
    }

    private CliRun Failover(params string[] args) => CliRun.Of(_project, ["--stacks", _project, .. args]);

    [Theory]
    [InlineData("../x")]
    [InlineData("/")]
    [InlineData("..")]
    public void Drill_clean_refuses_a_vault_path_outside_its_state_directory_and_deletes_nothing(string path)
    {
        var outside = Path.GetFullPath(path, _project);
        var sentinel = Path.Combine(Directory.CreateDirectory(Path.Combine(_project, "..", "x")).FullName, "keep-me");
        File.WriteAllText(sentinel, "not the drill's");
        try
        {
            Edit("local-vault", "path: .failover/local/vault", $"path: \"{path}\"");
            var run = Failover("drill", "--clean");
            Assert.True(run.ExitCode == 3, run.Stderr + run.Stdout);
            Assert.Contains("Pulumi.local-vault.yaml", run.Stderr);
            Assert.Contains("failover:vault.path", run.Stderr);
            Assert.Contains("outside the drill's state directory", run.Stderr);
            Assert.True(File.Exists(sentinel));
            Assert.True(Directory.Exists(outside));
        }
        finally { Directory.Delete(Path.GetDirectoryName(sentinel)!, true); }
    }

    [Fact]
    public void Drill_clean_inside_the_state_directory_removes_the_drill_vault_only()
    {
        var vault = Directory.CreateDirectory(Path.Combine(_project, ".failover", "local", "vault")).FullName;
        File.WriteAllText(Path.Combine(vault, "config"), "restic");
        var mine = Path.Combine(_project, ".failover", "notes.txt");
        File.WriteAllText(mine, "the operator's");
        var run = Failover("drill", "--clean");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.False(Directory.Exists(vault));
        Assert.True(File.Exists(mine));
    }

    [Fact]
    public void Drill_clean_with_an_s3_vault_is_a_named_error_not_a_crash()
    {
        Edit("local-vault", "    kind: directory\n    path: .failover/local/vault", "    kind: s3\n    bucket: drill-vault");
        var run = Failover("drill", "--clean");
        Assert.True(run.ExitCode == 3, run.Stderr + run.Stdout);
        Assert.Contains("Pulumi.local-vault.yaml", run.Stderr);
        // The reader refuses an S3 vault at the local provider before drill --clean looks at it: named, not a crash.
        Assert.Contains("failover:vault: a kind: s3 vault cannot be at provider local", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public void Migrate_dry_run_prints_no_ciphertext_in_its_diff()
    {
        const string ciphertext = "v1:U0VDUkVUY2lwaGVydGV4dA==";
        Edit("local-standby", "  failover:role: standby\n", $"  failover:role: standby\n  hcloud:token:\n    secure: {ciphertext}\n");
        var run = Failover("migrate", "--to", "local-standby", "--dry-run");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.Contains("hcloud:token", run.Stdout); // the diff shows the lines around it...
        Assert.Contains("secure: [redacted]", run.Stdout);
        Assert.DoesNotContain(ciphertext, run.Stdout + run.Stderr); // ...never the ciphertext
    }

    [Theory]
    [InlineData("[v1:a, v1:b]")]
    [InlineData("{ inner: v1:x }")]
    public void A_secure_value_holding_a_list_or_map_is_exit_3_naming_file_and_key(string value)
    {
        Edit("local-standby", "  failover:role: standby\n", $"  failover:role: standby\n  hcloud:token:\n    secure: {value}\n");
        var run = Failover("status");
        Assert.True(run.ExitCode == 3, run.Stderr + run.Stdout);
        Assert.Contains("Pulumi.local-standby.yaml:5: hcloud:token", run.Stderr);
    }

    [Fact]
    public void A_zone_label_over_63_characters_is_refused_at_load_not_a_crash_in_status()
    {
        Edit("local-dns", "zone: drill.test", $"zone: {new string('a', 64)}.test");
        var run = Failover("status");
        Assert.True(run.ExitCode == 3, run.Stderr + run.Stdout);
        Assert.Contains("failover:dns.zone", run.Stderr);
        Assert.Contains("longer than 63", run.Stderr);
    }

    [Fact]
    public void A_path_a_shell_would_interpret_never_reaches_the_postgres_tools()
    {
        var marker = Path.Combine(_project, "pwned");
        var cluster = new PostgresCluster(Path.Combine(_project, $"sb$(touch {marker})", "data"), "127.0.3.1", 5432);
        var e = Assert.ThrowsAny<InvalidOperationException>(() => cluster.InitAsync(CancellationToken.None).GetAwaiter().GetResult());
        Assert.Contains("would hand to a shell", e.Message);
        var start = Assert.ThrowsAny<InvalidOperationException>(() => cluster.StartAsync(CancellationToken.None).GetAwaiter().GetResult());
        Assert.Contains("would hand to a shell", start.Message);
        Assert.False(File.Exists(marker));
    }
}
