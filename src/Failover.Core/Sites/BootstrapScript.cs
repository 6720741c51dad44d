using System.Text;

namespace Failover.Core.Sites;

/// <summary>What one server sets up on its first boot.</summary>
public sealed record ServerBootstrap(
    string Stack,
    string Server,
    bool InstallsDatabase,
    RestoreRecipe? Restore,
    ServiceSettings Service,
    IReadOnlyList<string> SshPublicKeys)
{
    public const string ScriptPath = "/usr/local/sbin/failover-bootstrap";
    public const string WebRoot = "/var/lib/failover/www";
    public const string HealthUnit = "failover-health.service";

    /// <summary>The bootstrap of a planned server: the data server installs PostgreSQL and restic and restores.</summary>
    public static ServerBootstrap For(SitePlan site, PlannedServer server, RestoreRecipe? recipe) =>
        new(site.Stack.Name, server.Name, server.HoldsData, server.HoldsData ? recipe : null, site.Stack.Service, site.Stack.Access.SshPublicKeys);

    /// <summary>The file the health endpoint serves; written only when the server is ready.</summary>
    public string HealthFile => WebRoot + Service.HealthPath;
}

/// <summary>
/// Renders a <see cref="ServerBootstrap"/> to the bash script cloud-init runs. Credentials never appear in it:
/// the script reads them from the root-only file cloud-init writes from a Pulumi secret.
/// </summary>
public static class BootstrapScript
{
    public static string Render(ServerBootstrap boot)
    {
        var s = new StringBuilder();
        void L(string line = "") => s.Append(line).Append('\n');
        L("#!/bin/bash");
        L($"# Written by failover for {boot.Server} ({boot.Stack}); runs once, on the first boot.");
        L("set -euo pipefail");
        L("log() { echo \"failover: $*\" | systemd-cat -t failover-bootstrap -p info || true; echo \"failover: $*\"; }");
        L("fail() { echo \"failover: $*\" | systemd-cat -t failover-bootstrap -p err || true; echo \"failover: $*\" >&2; }");
        L("trap 'fail \"FAILED at line $LINENO; the health endpoint stays down\"' ERR");
        L("export DEBIAN_FRONTEND=noninteractive");
        L();
        var packages = boot.InstallsDatabase ? "postgresql restic jq python3" : "python3";
        L($"log {Sh.Quote("installing " + packages)}");
        L("apt-get update -q");
        L($"apt-get install -y -q {packages}");
        L();
        L("# The health endpoint answers 404 until the health file exists, so checks fail until the server is ready.");
        L($"install -d -m 0755 {Sh.Quote(Path.GetDirectoryName(boot.HealthFile)!.Replace('\\', '/'))}");
        L($"systemctl enable --now {ServerBootstrap.HealthUnit}");
        if (boot.InstallsDatabase) L("systemctl enable --now postgresql");
        if (boot.Restore is { } recipe)
        {
            L();
            L($"# Restore point: {recipe.Tenants.Count} tenants, in restore order (tier first, then smallest first).");
            L("# Each id is the tenant's database snapshot; its run= tag finds the files and manifest of the same backup run.");
            L($"test -r {Sh.Quote(recipe.CredentialsFile)} || {{ log 'missing credentials file'; exit 1; }}");
            L("set -a");
            L($". {Sh.Quote(recipe.CredentialsFile)}");
            L("set +a");
            L($"install -d -o postgres -m 0700 {Sh.Quote(recipe.SpoolDirectory)}");
            L($"FAILOVER_REHEARSAL={(recipe.Rehearsal ? 1 : 0)}  # tenant hooks see it: 1 on a rehearsal copy");
            if (recipe.HasHooks)
            {
                L("# Tenant hooks run as root and use psql like the local restore's hooks do: give root a role (peer authentication).");
                L("runuser -u postgres -- psql --no-psqlrc -X -q -tA -c \"SELECT 1 FROM pg_roles WHERE rolname = 'root'\" | grep -q 1 ||");
                L("  runuser -u postgres -- createuser --superuser root");
            }
            L();
            L(RestoreRecipe.Functions.Render());
            L();
            L("# A tenant that fails is reported and left out of the health document; the others are still restored.");
            L("restored=()");
            L("failed=()");
            foreach (var tenant in recipe.Tenants)
            {
                var name = tenant.Tenant.Name;
                var function = "restore_" + name.Replace('-', '_');
                L();
                L($"{function}() {{");
                L("  local run");
                foreach (var step in tenant.Steps)
                {
                    L($"  log {Sh.Quote(step.Title)}");
                    L($"  {step.Command} || {{ fail {Sh.Quote("FAILED: " + step.Title)}; return 1; }}");
                }
                L("}");
                L($"if {function}; then restored+=({Sh.Quote(HealthDocument.SnapshotMember(name, tenant.SnapshotId))}); " +
                  $"else failed+=({Sh.Quote(HealthDocument.FailedEntry(name))}); fi");
            }
        }
        if (boot.Service.Unit is { } unit)
        {
            L();
            L($"log {Sh.Quote("starting " + unit)}");
            L($"systemctl enable --now {Sh.Quote(unit)}");
        }
        L();
        if (boot.Restore is null)
        {
            L($"cat > {Sh.Quote(boot.HealthFile + ".tmp")} <<'HEALTH'");
            L(HealthDocument.Render(boot.Stack, boot.Server, new Dictionary<string, string>()));
            L("HEALTH");
            L($"mv {Sh.Quote(boot.HealthFile + ".tmp")} {Sh.Quote(boot.HealthFile)}");
        }
        else
        {
            s.Append(HealthDocument.ShellWriter(boot.Stack, boot.Server, boot.HealthFile));
            L("if [ \"${#failed[@]}\" -gt 0 ]; then fail \"restore FAILED for ${#failed[@]} tenants: ${failed[*]}\"; exit 1; fi");
        }
        L("log ready");
        return s.ToString();
    }

    /// <summary>The systemd unit of the health endpoint: a static file server on the health port.</summary>
    public static string HealthUnit(ServiceSettings service) =>
        "[Unit]\nDescription=failover health endpoint\nAfter=network-online.target\n\n" +
        $"[Service]\nExecStart=/usr/bin/python3 -m http.server {service.HealthPort} --directory {ServerBootstrap.WebRoot}\n" +
        "DynamicUser=yes\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n";
}

/// <summary>POSIX shell quoting: plain words stay as they are, anything else is single-quoted.</summary>
public static class Sh
{
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ':' or '=' or '@' or '%' or '+' or ',')
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";
}
