using Failover.Core.Topology;
using Failover.Driver.Cli;

namespace Failover.Driver.Tests.Engine;

/// <summary>
/// The cloud tokens the run's stacks need are checked before the first step: a missing one stops the run naming it and
/// where it comes from, and nothing is done (no journal, no provider call).
/// </summary>
public class TokenPreCheckTests : IDisposable
{
    private readonly FakeProject _p = new();
    private readonly string _home = Directory.CreateTempSubdirectory("failover-home-").FullName;
    private readonly Dictionary<string, string> _environment = new();

    public TokenPreCheckTests()
    {
        _environment["HOME"] = _home; // no ~/.aws/credentials
        // Only the variables this test gives: the machine's own AWS or Hetzner settings must not decide the outcome.
        _p.Variable = n => _environment.GetValueOrDefault(n);
    }

    public void Dispose()
    {
        _p.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    private FakePorts Fake => _p.Fake;
    private string Project => _p.Project;
    private string State => _p.State;

    private CliRun Run(params string[] args) => _p.Run(args);

    private void RemoveHetznerToken(string stack)
    {
        var file = Path.Combine(Project, "infra", "stacks", $"Pulumi.{stack}.yaml");
        var lines = File.ReadAllLines(file).ToList();
        var at = lines.FindIndex(l => l.TrimStart().StartsWith("hcloud:token:", StringComparison.Ordinal));
        lines.RemoveRange(at, 2);
        File.WriteAllLines(file, lines);
    }

    [Fact]
    public void A_missing_hetzner_token_stops_the_run_before_the_first_step_naming_it_and_where_it_comes_from()
    {
        RemoveHetznerToken("standby-hel1");
        var run = Run("run", "--to", "standby-hel1", "--yes");
        Assert.Equal(ExitCodes.Failed, run.ExitCode);
        Assert.Contains("nothing was done", run.Stderr);
        Assert.Contains("Hetzner Cloud API token (standby-hel1) (for provision", run.Stderr);
        Assert.Contains("`pulumi config set --secret hcloud:token -s standby-hel1`), or HCLOUD_TOKEN", run.Stderr);
        Assert.DoesNotContain("prod-fsn1)", run.Stderr); // production's token is in its stack file
        Assert.Empty(Fake.Effects);
        Assert.False(Directory.Exists(Path.Combine(State, "runs")));

        _environment["HCLOUD_TOKEN"] = "token-from-the-environment";
        var again = Run("run", "--to", "standby-hel1", "--yes");
        Assert.True(again.ExitCode == 0, again.Stderr);
    }

    [Fact]
    public void Missing_aws_credentials_stop_a_run_to_an_aws_standby_and_any_source_of_them_lets_it_start()
    {
        var run = Run("run", "--to", "standby-aws-fra", "--yes");
        Assert.Equal(ExitCodes.Failed, run.ExitCode);
        Assert.Contains("AWS credentials (standby-aws-fra) (for provision", run.Stderr);
        Assert.Contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", run.Stderr);
        Assert.Empty(Fake.Effects);

        _environment["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE"; // a key without its secret is not enough
        Assert.Equal(ExitCodes.Failed, Run("run", "--to", "standby-aws-fra", "--yes").ExitCode);
        Directory.CreateDirectory(Path.Combine(_home, ".aws"));
        File.WriteAllText(Path.Combine(_home, ".aws", "credentials"), "[default]\n");
        var again = Run("run", "--to", "standby-aws-fra", "--yes");
        Assert.True(again.ExitCode == 0, again.Stderr);
    }
}
