using Failover.Driver.Logging;
using Serilog;

namespace Failover.Driver.Tests;

public class RedactionTests
{
    [Fact]
    public void Registered_secrets_and_credential_properties_never_reach_a_sink()
    {
        var secrets = new SecretRegistry();
        secrets.Add("s3cr3t-restic-password");
        var console = new StringWriter();
        var file = Path.GetTempFileName();
        try
        {
            using (var log = LogSetup.Create(secrets, file, verbose: true, console))
            {
                log.Information("Restoring {Tenant} with {Command}", "acme", "restic -p s3cr3t-restic-password restore");
                log.Information("Connecting with {ApiToken}", "tok-abcdef-123456");
                log.Error(new InvalidOperationException("auth failed for s3cr3t-restic-password"), "Step {Step} failed", "restore");
            }
            foreach (var text in new[] { console.ToString(), File.ReadAllText(file) })
            {
                Assert.DoesNotContain("s3cr3t-restic-password", text);
                Assert.DoesNotContain("tok-abcdef-123456", text);
                Assert.Contains("[redacted]", text);
                Assert.Contains("acme", text);
                Assert.Contains("auth failed for [redacted]", text);
            }
        }
        finally { File.Delete(file); }
    }
}
