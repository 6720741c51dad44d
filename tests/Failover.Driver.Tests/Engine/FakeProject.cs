using Failover.Core.Topology;
using Failover.Driver.Cli;

namespace Failover.Driver.Tests.Engine;

/// <summary>A copy of the shipped cloud project, its run state in a folder, and `failover` run in-process over in-memory ports.</summary>
internal sealed class FakeProject : IDisposable
{
    public FakeProject()
    {
        Fake = new FakePorts(Time, TopologyLoader.Load(Path.Combine(Project, "infra", "stacks")).Tenants);
    }

    public string Project { get; } = Repo.CopyProject();
    public ManualTime Time { get; } = new(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.Zero));
    public FakePorts Fake { get; }

    /// <summary>The environment the command reads; the process's own by default.</summary>
    public Func<string, string?> Variable { get; set; } = Environment.GetEnvironmentVariable;

    public string State => Path.Combine(Project, ".failover");

    /// <summary>The folder of the one run recorded.</summary>
    public string RunDir => Directory.GetDirectories(Path.Combine(State, "runs")).Single();

    public CliRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var app = new App(stdout, stderr, Project, logConsole: stderr) { Time = Time, Ports = (_, _) => Task.FromResult(Fake.Ports), Input = null, Variable = Variable };
        // The copied Pulumi.yaml names an S3 backend; these runs keep their state in the project folder.
        return new CliRun(app.Run([.. args, "--state-dir", State]), stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => Directory.Delete(Project, recursive: true);
}
