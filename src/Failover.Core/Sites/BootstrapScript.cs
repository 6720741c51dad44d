using System.Text;
using Failover.Core.Backup;
using Failover.Core.Topology;

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
    public const string HealthHandlerPath = "/usr/local/lib/failover/health.py";
    public const string WebRoot = "/var/lib/failover/www";
    public const string StateDirectory = "/var/lib/failover/restore";
    public const string HealthUnit = "failover-health.service";

    /// <summary>The backup agent this data server installs (<see cref="BackupAgent"/>); null on other servers and rehearsal copies.</summary>
    public BackupPlan? Backup { get; init; }

    /// <summary>Whether the agent's timer starts at boot (a production site); a standby's waits until a cutover enables it.</summary>
    public bool BackupAtBoot { get; init; }

    /// <summary>
    /// The role the server boots into, written into its script: a former primary brought back as a standby (the way back
    /// after a fence) gets new user data, so its servers are replaced delete-first, and the fence's stop marker goes
    /// with its application servers (<see cref="ApplicationStop"/>).
    /// </summary>
    public Role Role { get; init; } = Role.Standby;

    /// <summary>
    /// Whether the server takes the fence's stop request (<see cref="ApplicationStop"/>) when it has the key: every server
    /// but a data server whose user data has no room for it beside its restore and agent (<see cref="SiteUserData.Fitted"/>).
    /// </summary>
    public bool TakesStop { get; init; } = true;

    /// <summary>
    /// Whether the restore point's records come after boot, in the driver's signed <see cref="BackupControl.RestorePoint"/>
    /// request, instead of in the user data, which then pins them by their SHA-256 (<see cref="RestoreRecipe.RestorePointSha256"/>):
    /// a keyed data server whose records leave no room for the control parts (<see cref="SiteUserData.Fitted"/>).
    /// </summary>
    public bool RestorePointByRequest { get; init; }

    /// <summary>The server's data volume, mounted before anything is installed; null when it has none.</summary>
    public DataVolume? Volume { get; init; }

    /// <summary>The site's private subnet: PostgreSQL listens on the server's address in it and admits only it.</summary>
    public string SubnetCidr { get; init; } = SitePlan.DefaultSubnetCidr;

    /// <summary>The bootstrap of a planned server: the data server installs PostgreSQL and restic and restores.</summary>
    public static ServerBootstrap For(SitePlan site, PlannedServer server, RestoreRecipe? recipe, BackupPlan? backup = null)
    {
        var boot = new ServerBootstrap(site.Stack.Name, server.Name, server.HoldsData, server.HoldsData ? recipe : null, site.Stack.Service, site.Stack.Access.SshPublicKeys)
        {
            Backup = server.HoldsData ? backup : null,
            BackupAtBoot = site.Stack.Role == Role.Production,
            Role = site.Stack.Role,
            Volume = DataVolume.For(site.Stack.Site.Provider, server),
            SubnetCidr = site.SubnetCidr,
        };
        // What the data server's user data has room for, decided once (SiteUserData.Fitted).
        return server.HoldsData ? SiteUserData.Fitted(site, boot) : boot;
    }

    /// <summary>The file the health endpoint serves; written only when the server is ready.</summary>
    public string HealthFile => WebRoot + Service.HealthPath;
}

/// <summary>
/// Renders a <see cref="ServerBootstrap"/> to the bash script cloud-init runs. Credentials never appear in it:
/// the script reads them from the root-only file cloud-init writes from a Pulumi secret. Every name and value
/// is shell-quoted into printable ASCII (<see cref="Sh.Quote"/>), so the script is safe inside a YAML block.
/// </summary>
public static class BootstrapScript
{
    /// <summary>Tries of an apt-get install before the boot fails, and the first pause (it grows linearly: 10+20+...+50 s).</summary>
    public const int AptTries = 6;
    public const int AptFirstDelaySeconds = 10;

    public static string Render(ServerBootstrap boot)
    {
        var s = new StringBuilder();
        void L(string line = "") => s.Append(line).Append('\n');
        L("#!/bin/bash");
        L("# Written by failover; runs once, on the first boot. STACK and SERVER name the server.");
        L("set -Eeuo pipefail");
        L($"STACK={Sh.Quote(boot.Stack)} SERVER={Sh.Quote(boot.Server)}");
        L("log() { echo \"failover: $*\" | systemd-cat -t failover-bootstrap -p info || true; echo \"failover: $*\" >&2; }");
        L("fail() { echo \"failover: $*\" | systemd-cat -t failover-bootstrap -p err || true; echo \"failover: $*\" >&2; }");
        L("trap 'fail \"FAILED at line $LINENO; the health endpoint stays down\"' ERR");
        L("export DEBIAN_FRONTEND=noninteractive HOME=/root");
        L($"FSTAB=/etc/fstab APT_DELAY={AptFirstDelaySeconds}");
        L(Compact(Functions.Render()));
        // An application server names the role it boots as (the data server is replaced by its restore point anyway).
        L(boot.InstallsDatabase ? "log \"bootstrap of $SERVER ($STACK)\"" : $"log \"bootstrap of $SERVER ($STACK, as {boot.Role.ToString().ToLowerInvariant()})\"");
        L("# The metadata service hands the user data to any process that asks: only root may ask (bootcmd did it already where nft exists).");
        L("block_metadata");
        if (boot.Volume is { } volume)
        {
            L($"mount_data_volume {Sh.Quote(volume.MountPoint)} {(int)DataVolume.AttachWait.TotalSeconds} {string.Join(' ', volume.DeviceCandidates.Select(Sh.Quote))}");
            foreach (var bind in volume.Binds)
                L($"bind_on_volume {Sh.Quote(bind.OnVolume)} {Sh.Quote(bind.Directory)}");
        }
        var packages = boot.InstallsDatabase ? "postgresql restic jq python3" : "python3";
        L($"apt_install {packages}");
        L();
        L("# The health endpoint answers 404 until the health document exists, so checks fail until the server is ready.");
        L($"install -d -m 0755 {Sh.Quote(Path.GetDirectoryName(boot.HealthFile)!.Replace('\\', '/'))}");
        L($"systemctl enable --now {ServerBootstrap.HealthUnit}");
        if (boot.InstallsDatabase)
        {
            L("systemctl enable --now postgresql");
            L($"configure_postgres {Sh.Quote(boot.SubnetCidr)}");
        }
        if (boot.Restore is { } recipe)
        {
            L();
            L($"test -r {Sh.Quote(recipe.CredentialsFile)} || {{ fail 'missing credentials file'; exit 1; }}");
            L("set -a");
            L($". {Sh.Quote(recipe.CredentialsFile)}");
            L("set +a");
            L("# Hooks get none of these; any line that contains one is redacted before it is logged.");
            L("SECRETS=(\"$RESTIC_PASSWORD\" \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_ACCESS_KEY_ID\")");
            L($"export RESTIC_CACHE_DIR={Sh.Quote(DataVolume.ResticCacheDirectory)}");
            L($"SPOOL={Sh.Quote(recipe.SpoolDirectory)} TENANTS={Sh.Quote(RestoreRecipe.TenantsDirectory)} STATE={Sh.Quote(ServerBootstrap.StateDirectory)}");
            L($"PG_JOBS={recipe.PgRestoreJobs} HOOK_TIMEOUT={(int)recipe.HookTimeout.TotalSeconds}");
            L($"FAILOVER_REHEARSAL={(recipe.Rehearsal ? 1 : 0)}  # tenant hooks see it: 1 on a rehearsal copy");
            L("install -d -o postgres -m 0700 \"$SPOOL\"");
            L("install -d -m 0700 \"$STATE\" \"$RESTIC_CACHE_DIR\" \"$TENANTS\"");
            if (recipe.HasHooks)
            {
                L("# Tenant hooks run as root and use psql like the local restore's hooks do: give root a role (peer authentication).");
                L("runuser -u postgres -- psql --no-psqlrc -X -q -tA -c \"SELECT 1 FROM pg_roles WHERE rolname = 'root'\" | grep -q 1 ||");
                L("  runuser -u postgres -- createuser --superuser root");
            }
            L(Compact(RestoreRecipe.Functions.Render()));
            if (boot.RestorePointByRequest)
            {
                // The records come with the driver's signed request; only the ones whose SHA-256 the user data pins are restored.
                var point = Sh.Quote(RestoreRecipe.RestorePointFile);
                L(PutHealth(boot, HealthDocument.RenderWaiting(boot.Stack, boot.Server, recipe.RestorePointSha256)));
                L($"log 'waiting for the restore point (sha256 {recipe.RestorePointSha256[..12]}): the signed {BackupControl.RestorePoint} request brings it'");
                L($"until [ \"$(sha256sum 2> /dev/null < {point} | cut -c1-64)\" = {recipe.RestorePointSha256} ]; do sleep 2; done");
                L($". {point}");
            }
            else
            {
                L("# The restore point, in restore order (tier first, then smallest first): database snapshot id, name check, hooks.");
                s.Append(recipe.RenderData());
            }
            L($"log \"restoring ${{#ids[@]}} tenants, {recipe.Parallelism} at a time\"");
            L(RestoreRecipe.Functions.RestoreWatched(recipe.Parallelism, boot.HealthFile));
        }
        if (boot.Service.Unit is { } unit)
        {
            L();
            L($"log {Sh.Quote("starting " + unit)}");
            L($"systemctl enable --now {Sh.Quote(unit)}");
        }
        if (boot.Backup is not null)
        {
            L();
            // 0711: psql and pg_dump run as postgres and write their status into the run's folder inside it.
            L($"install -d -m 0711 {Sh.Quote(boot.Backup.StateDirectory)}");
            L(boot.BackupAtBoot
                ? $"systemctl enable --now {BackupAgent.Timer} && log 'backup agent scheduled every {Durations.Format(boot.Backup.Interval)}'"
                : $"log 'no backup agent yet: the signed start request after a cutover brings it and starts its timer'");
        }
        L();
        if (boot.Restore is null)
        {
            L(PutHealth(boot, HealthDocument.Render(boot.Stack, boot.Server, new Dictionary<string, string>())));
        }
        else
        {
            L($"{RestoreRecipe.Functions.WriteHealth} \"$STACK\" \"$SERVER\" {Sh.Quote(boot.HealthFile)}");
            L("if [ \"$failed_count\" -gt 0 ]; then fail \"FAILED: the restore of $failed_count of ${#ids[@]} tenants: $failed_tenants (see above); the health document says degraded\"; exit 1; fi");
        }
        L("log ready");
        return s.ToString();
    }

    /// <summary>The functions without their comment lines: the comments are for the source, the bytes count against the user data limit.</summary>
    public static string Compact(string bash) =>
        string.Join('\n', bash.Split('\n').Where(l => !l.TrimStart().StartsWith("# ", StringComparison.Ordinal) && l.TrimStart() != "#"));

    /// <summary>
    /// The systemd unit of the health endpoint: a small handler that serves the health document live. On the
    /// data server it asks PostgreSQL (pg_isready) on every request: "ready" answers 200 only while PostgreSQL
    /// answers; "degraded", "unavailable" and a missing document never answer 200. pg_isready is given its user:
    /// the handler runs as a dynamic user that has no passwd entry unless libnss-systemd is installed, and libpq
    /// without one gives up before it connects ("no attempt"), so the check would always fail.
    /// </summary>
    /// <param name="control">The data server has a backup agent: the daemon gets its state directory and the control key (<see cref="BackupControl"/>).</param>
    public static string HealthUnit(ServiceSettings service, bool checksDatabase = false, bool control = false)
    {
        if (service.HealthPath.Any(c => c is < ' ' or > '~' or '"' or '\\' or '%' or '$'))
            throw new ArgumentException($"health path '{service.HealthPath}' has characters a systemd unit cannot carry: use letters, digits, '/', '-', '_' and '.'", nameof(service));
        return "[Unit]\nDescription=failover health endpoint\nAfter=network-online.target\n\n" +
               $"[Service]\nExecStart=/usr/bin/python3 {ServerBootstrap.HealthHandlerPath} {service.HealthPort} \"{service.HealthPath}\" \"{ServerBootstrap.WebRoot}{service.HealthPath}\"" +
               (checksDatabase ? " /usr/bin/pg_isready -q -U postgres" : "") + "\n" +
               "DynamicUser=yes\nRestart=always\n" +
               (control ? $"StateDirectory={BackupControl.StateDirectory}\nLoadCredential={BackupControl.Credential}:{BackupControl.KeyFile}\n" : "") +
               "\n[Install]\nWantedBy=multi-user.target\n";
    }

    /// <summary>
    /// The health handler: <c>health.py PORT PATH DOCUMENT [CHECK...]</c>. 404 until the document exists; then the
    /// document, 200 when its status is ready (and CHECK exits 0), else 503 with status degraded or unavailable.
    /// FAILOVER_HEALTH_BIND sets the listening address (every address by default). It also takes the control requests of its
    /// table (<see cref="SiteControl.ActionsOf"/>, <see cref="BackupControl"/>): POST to its path, checked against the key in
    /// <c>$CREDENTIALS_DIRECTORY</c> (none: every request refused), nonces and the queue in <c>$STATE_DIRECTORY</c>.
    /// </summary>
    public static readonly string HealthHandler = Handler(control: false);

    /// <summary>The handler; with <paramref name="control"/> (a data server with a backup agent) it takes every action of <see cref="BackupControl.Actions"/>.</summary>
    public static string Handler(bool control) => Handler(control ? [.. BackupControl.Actions.Keys] : []);

    /// <summary>
    /// The handler taking the actions named (<see cref="SiteControl.ActionsOf"/>), a subset of <see cref="BackupControl.Actions"/>;
    /// none: no POST at all. <paramref name="restorePoint"/>: the SHA-256 the restore-point action's records must have.
    /// </summary>
    public static string Handler(IReadOnlyList<string> actions, string? restorePoint = null) => CompactPython(actions.Count > 0
        ? HealthBase.Replace("import http.server, json, os, subprocess, sys", "import base64, hashlib, hmac, http.server, json, os, re, shutil, subprocess, sys, threading, time", StringComparison.Ordinal)
            .Replace("#CONTROL\n", ControlPart.Replace("#ACTIONS#", ActionTable(actions), StringComparison.Ordinal)
                .Replace("#FUNCTIONS#", string.Join("\n", BackupControl.Actions.Keys.Where(actions.Contains).Select(a => ActionCode[a])), StringComparison.Ordinal)
                .Replace("#PIN#", restorePoint ?? "", StringComparison.Ordinal), StringComparison.Ordinal)
            .Replace("    #POST\n", PostPart, StringComparison.Ordinal)
        : HealthBase.Replace("#CONTROL\n", "", StringComparison.Ordinal).Replace("    #POST\n", "", StringComparison.Ordinal));

    /// <summary>Python as the server runs it: without comment lines and blank lines (the handler has no multi-line strings), as <see cref="Compact"/> does for bash.</summary>
    private static string CompactPython(string code) =>
        string.Join('\n', code.Split('\n').Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'))) + "\n";

    private const string HealthBase = """
        import http.server, json, os, subprocess, sys

        port, path, document, check = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]

        #CONTROL
        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != path:
                    return self.answer(404, {"status": "not found"})
                try:
                    with open(document, encoding="utf-8") as f:
                        doc = json.load(f)
                except FileNotFoundError:
                    return self.answer(404, {"status": "starting"})
                except ValueError:
                    return self.answer(503, {"status": "unreadable"})
                if doc.get("status") == "ready" and check:
                    try:
                        up = subprocess.run(check, timeout=5, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
                    except (OSError, subprocess.TimeoutExpired):
                        up = False
                    if not up:
                        doc["status"] = "unavailable"
                self.answer(200 if doc.get("status") == "ready" else 503, doc)

            #POST
            def answer(self, code, doc):
                body = (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass


        http.server.ThreadingHTTPServer((os.environ.get("FAILOVER_HEALTH_BIND", ""), port), Health).serve_forever()

        """;

    /// <summary>The handler's functions for each action of <see cref="BackupControl.Actions"/>: the check the daemon and the root unit make, and what root does.</summary>
    private static readonly IReadOnlyDictionary<string, (string Check, string Act)> ControlFunctions = new Dictionary<string, (string, string)>
    {
        [BackupControl.StartBackups] = ("check_start", "start"),
        [BackupControl.FileReport] = ("check_report", "file_report"),
        [ApplicationStop.Action] = ("check_stop", "stop"),
        [BackupControl.RestorePoint] = ("check_restore_point", "restore_point"),
    };

    /// <summary>Each action's check and act functions in the handler: only the actions a server takes are written into its user data.</summary>
    private static readonly IReadOnlyDictionary<string, string> ActionCode = new Dictionary<string, string>
    {
        [BackupControl.StartBackups] = $$"""
        def check_start(req):
            agent = req.get("agent")
            if not isinstance(agent, dict) or not all(isinstance(agent.get(m), str) for m, _, _ in AGENT):
                return "the request carries no agent (%s)" % ", ".join(m for m, _, _ in AGENT)
            if hashlib.sha256("".join(agent[m] + "\0" for m, _, _ in AGENT).encode()).hexdigest() != agent.get("sha256"):
                return "the agent's SHA-256 does not match its files"


        def start(req):
            changed = False
            for m, p, mode in AGENT:
                changed = put(ROOT + p, req["agent"][m].encode(), mode) or changed
            if changed:
                run("systemctl", "daemon-reload")
            ok = run("systemctl", "is-active", "-q", "{{BackupAgent.Timer}}").returncode == 0 or (
                run("systemctl", "enable", "--now", "{{BackupAgent.Timer}}").returncode == 0 and run("systemctl", "start", "--no-block", "{{BackupAgent.Service}}").returncode == 0)
            return ok, {"agent": "installed" if changed else "unchanged", "timer": run("systemctl", "is-active", "{{BackupAgent.Timer}}").stdout.strip() or "unknown"}
        """,
        [BackupControl.FileReport] = $$"""
        def check_report(req):
            files, vaults = req.get("files"), req.get("vaults")
            if not isinstance(req.get("run"), str) or not NAME.match(req["run"]):
                return "the request names no run"
            if not isinstance(vaults, list) or not vaults or not all(isinstance(v, str) and NAME.match(v) for v in vaults):
                return "the request names no vaults"
            if not isinstance(files, list) or not files or not all(isinstance(f, dict) and isinstance(f.get("name"), str) and NAME.match(f["name"]) for f in files):
                return "the request carries no files with plain names"
            for f in files:
                try:
                    data = base64.b64decode(f.get("content"), validate=True)
                except (ValueError, TypeError):
                    return "%s: its content is not base64" % f["name"]
                if hashlib.sha256(data).hexdigest() != f.get("sha256"):
                    return "%s: its SHA-256 does not match its content" % f["name"]


        def file_report(req):
            stage = ROOT + "{{BackupControl.ReportStaging}}/" + req["run"]
            shutil.rmtree(stage, ignore_errors=True)
            os.makedirs(stage, 0o700)
            for f in req["files"]:
                with open(os.path.join(stage, f["name"]), "wb") as out:
                    out.write(base64.b64decode(f["content"]))
            filed, failed = [], {}
            for v in req["vaults"]:
                creds = ROOT + "{{BackupPlan.VaultCredentialsDirectory}}/%s.env" % v
                if not os.path.isfile(creds):
                    failed[v] = "this server has no write credentials for it (%s)" % creds
                    continue
                r = run("bash", "-c", 'set -a; . "$0" || exit 1; set +a; exec restic backup --no-cache --quiet --tag {{ReportFiling.Tag}} --tag "report=$1" .', creds, req["run"], cwd=stage)
                if r.returncode == 0:
                    filed.append(v)
                else:
                    failed[v] = (r.stdout.strip().splitlines() or ["restic exited %d" % r.returncode])[-1]
            shutil.rmtree(stage, ignore_errors=True)
            return not failed, {"filed": filed, "failed": failed}
        """,
        [ApplicationStop.Action] = $$"""
        def check_stop(req):
            return None


        def stop(req):
            # The fence: the root script ApplicationStop renders for this server; its last line says what it did.
            r = run(ROOT + "{{ApplicationStop.ScriptPath}}")
            return r.returncode == 0, {"application": (r.stdout.strip().splitlines() or ["exit %d" % r.returncode])[-1]}
        """,
        [BackupControl.RestorePoint] = $$"""
        def check_restore_point(req):
            if not isinstance(req.get("records"), str):
                return "the request carries no records"
            digest = hashlib.sha256(req["records"].encode()).hexdigest()
            if digest != "#PIN#":
                return "the records (sha256 %s) are not the restore point this server's user data pins (#PIN#)" % digest


        def restore_point(req):
            return True, {"restorePoint": "installed" if put(ROOT + "{{RestoreRecipe.RestorePointFile}}", req["records"].encode(), 0o600) else "unchanged"}


        """,
    };

    /// <summary>A health document written whole (beside, then renamed): the health address never serves half of one.</summary>
    private static string PutHealth(ServerBootstrap boot, string document) =>
        $"printf '%s\\n' {Sh.Quote(document)} > {Sh.Quote(boot.HealthFile + ".tmp")}\nmv {Sh.Quote(boot.HealthFile + ".tmp")} {Sh.Quote(boot.HealthFile)}";

    private static string ActionTable(IReadOnlyList<string> actions) =>
        "{" + string.Join(", ", BackupControl.Actions.Where(a => actions.Contains(a.Key)).Select(a => ControlFunctions.TryGetValue(a.Key, out var f)
            ? $"\"{a.Key}\": ({a.Value}, {f.Check}, {f.Act})"
            : throw new InvalidOperationException($"control action {a.Key} has no handler"))) + "}";

    private static string AgentLayout =>
        "[" + string.Join(", ", AgentFiles.Layout.Select(f => $"(\"{f.Member}\", \"{f.Path}\", 0o{f.Mode.TrimStart('0')})")) + "]";

    private static readonly string ControlPart = $$"""
        STATE = os.environ.get("STATE_DIRECTORY", "")
        try:
            with open(os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "{{BackupControl.Credential}}"), "rb") as f:
                KEY = f.read().strip()
        except (KeyError, OSError):
            KEY = b""
        LOCK = threading.Lock()
        ROOT = os.environ.get("FAILOVER_CONTROL_ROOT", "")
        QUEUE, RESULTS = os.path.join(STATE, "{{BackupControl.QueueName}}"), os.path.join(STATE, "{{BackupControl.ResultsName}}")
        WAIT = float(os.environ.get("FAILOVER_CONTROL_WAIT", {{(int)BackupControl.ResultWait.TotalSeconds}} if os.path.isdir("/run/systemd/system") else 0))
        NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}\Z")
        AGENT = {{AgentLayout}}


        def refused(code, why, **more):
            return code, dict({"refused": why}, **more)


        def run(*args, **kw):
            return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


        def put(p, data, mode):
            # Compare, then replace whole (a reader sees the old file or the new one): whether the file changed.
            try:
                with open(p, "rb") as f:
                    if f.read() == data:
                        return False
            except OSError:
                pass
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.chmod(p + ".tmp", mode)
            os.replace(p + ".tmp", p)
            return True


        #FUNCTIONS#
        ACTIONS = #ACTIONS#


        def checked(body, signature):
            # (refusal, request): the checks the daemon and the root unit both make, so the daemon's user cannot forge one.
            if not hmac.compare_digest(hmac.new(KEY, body, hashlib.sha256).hexdigest(), signature):
                return refused(401, "bad signature"), None
            try:
                req = json.loads(body)
                action, stamp = req["action"], int(req["timestamp"])
                req["site"], req["nonce"] = str(req["site"]), str(req["nonce"])
            except (ValueError, KeyError, TypeError):
                return refused(400, "unreadable request"), None
            if action not in ACTIONS:
                return refused(400, "unknown action %r (this server takes %s)" % (action, ", ".join(sorted(ACTIONS)))), None
            limit, check, _ = ACTIONS[action]
            if len(body) > limit:
                return refused(413, "a %s request is at most %d bytes" % (action, limit)), None
            why = check(req)
            return (refused(400, why), None) if why else (None, req)


        def control(body, signature):
            # The control request: (code, answer). Nothing is queued unless every check passed.
            if not KEY or not STATE:
                return refused(403, "this server has no backup agent to start (a rehearsal copy never backs up)")
            no, req = checked(body, signature)
            if no:
                return no
            now = time.time()
            if abs(now - int(req["timestamp"])) > {{(int)BackupControl.Window.TotalSeconds}}:
                return refused(401, "stale: the request was signed %d s from this server's clock (at most {{(int)BackupControl.Window.TotalSeconds}})" % (int(req["timestamp"]) - now), serverTime=int(now))
            try:
                with open(document, encoding="utf-8") as f:
                    doc = json.load(f)
            except (OSError, ValueError):
                doc = {}
            # A stop and the restore point are taken whatever the restore's state; every other action waits for the restore.
            if doc.get("stack") != req["site"] or (req["action"] not in ("{{ApplicationStop.Action}}", "{{BackupControl.RestorePoint}}") and doc.get("status") not in ("ready", "degraded")):
                return refused(409, "not ready: this server is %s, its restore has not finished or it is another site's" % doc.get("stack", "starting"))
            seen_file, name = os.path.join(STATE, "nonces.json"), hashlib.sha256(req["nonce"].encode()).hexdigest()[:32] + ".json"
            with LOCK:
                try:
                    with open(seen_file, encoding="utf-8") as f:
                        seen = {n: t for n, t in json.load(f).items() if t > now - {{(int)BackupControl.Window.TotalSeconds}}}
                except (OSError, ValueError):
                    seen = {}
                if req["nonce"] in seen:
                    return refused(401, "replayed: this nonce was accepted before")
                seen[req["nonce"]] = int(req["timestamp"])
                with open(seen_file + ".tmp", "w", encoding="utf-8") as f:
                    json.dump(seen, f)
                os.replace(seen_file + ".tmp", seen_file)
                os.makedirs(QUEUE, exist_ok=True)
                with open(os.path.join(STATE, name), "w", encoding="utf-8") as f:
                    json.dump({"body": body.decode(), "signature": signature}, f)
                os.replace(os.path.join(STATE, name), os.path.join(QUEUE, name))
            # The root unit carries it out and writes the result (this user can neither start units nor read the vault keys).
            result, deadline = None, now + WAIT
            while result is None and time.time() < deadline:
                try:
                    with open(os.path.join(RESULTS, name), encoding="utf-8") as f:
                        result = json.load(f)
                except (OSError, ValueError):
                    time.sleep(0.25)
            return 202, dict({"accepted": req["action"], "site": req["site"]}, **(result or {"queued": True}))


        def act():
            # As root (the path unit's service): every queued request checked again, carried out, its result written.
            os.makedirs(RESULTS, exist_ok=True)
            for old in os.listdir(RESULTS):
                if os.stat(os.path.join(RESULTS, old)).st_mtime < time.time() - {{(int)BackupControl.Window.TotalSeconds}}:
                    os.remove(os.path.join(RESULTS, old))
            while os.path.isdir(QUEUE) and os.listdir(QUEUE):
                for name in sorted(os.listdir(QUEUE)):
                    path = os.path.join(QUEUE, name)
                    try:
                        with open(path, encoding="utf-8") as f:
                            queued = json.load(f)
                        no, req = checked(queued["body"].encode(), queued["signature"])
                        ok, result = (False, {"refused": no[1]["refused"]}) if no else ACTIONS[req["action"]][2](req)
                    except Exception as e:
                        ok, result = False, {"refused": "could not carry it out: %s" % e}
                    with open(os.path.join(RESULTS, name + ".tmp"), "w", encoding="utf-8") as f:
                        json.dump(dict(result, ok=ok), f)
                    os.replace(os.path.join(RESULTS, name + ".tmp"), os.path.join(RESULTS, name))
                    os.remove(path)


        if os.environ.get("{{BackupControl.ActVariable}}"):
            act()
            sys.exit(0)



        """ + "\n";

    private static readonly string PostPart = $$"""
            def do_POST(self):
                if self.path.split("?")[0] != "{{BackupControl.Path}}":
                    return self.answer(404, {"status": "not found"})
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 < length <= {{BackupControl.MaxBody}}:
                    return self.answer(413, {"refused": "a control request is 1 to {{BackupControl.MaxBody}} bytes (this one says %d)" % length})
                self.answer(*control(self.rfile.read(length), self.headers.get("{{BackupControl.SignatureHeader}}", "")))

        """ + "\n";

    /// <summary>
    /// The nftables rules that let only root reach the metadata service (169.254.169.254 on EC2 and Hetzner), which
    /// serves the user data, credentials included, to any process that asks. nftables is a Debian 12 package of
    /// priority important, so it is in the cloud images; the script installs it where it is missing.
    /// </summary>
    public static readonly IReadOnlyList<string> MetadataGuard =
    [
        "add table inet failover_metadata",
        "add chain inet failover_metadata output { type filter hook output priority 0 ; policy accept ; }",
        "add rule inet failover_metadata output ip daddr 169.254.169.254 meta skuid != 0 reject",
    ];

    /// <summary>The bash functions every server's bootstrap uses, defined once per script.</summary>
    public static class Functions
    {
        public static string Render() => $$"""
            # apt-get update + install, retried with a growing pause (APT_DELAY, 2*APT_DELAY, ...): a mirror or the
            # network can be briefly away on a first boot. Fails after {{AptTries}} tries.
            apt_install() {
              local try
              for ((try = 1; try <= {{AptTries}}; try++)); do
                log "installing $* (try $try of {{AptTries}})"
                if apt-get update -q && apt-get install -y -q "$@"; then return 0; fi
                [ "$try" = {{AptTries}} ] || sleep $((try * APT_DELAY))
              done
              fail "apt-get install $* failed {{AptTries}} times"; return 1
            }

            # Lets only root reach the metadata service, which serves the user data (the vault credentials included).
            block_metadata() {
              command -v nft > /dev/null || apt_install nftables
              nft list table inet failover_metadata > /dev/null 2>&1 && return 0
              {{string.Join("\n  ", MetadataGuard.Select(rule => "nft " + Sh.Quote(rule)))}}
            }

            # Mounts the data volume at $1: waits up to $2 s for the one attached disk among the device links $3...
            # that is not the disk holding /, formats it only when blkid finds no signature at all (never a volume with
            # data or a partition table), records it in FSTAB by UUID and mounts it.
            mount_data_volume() {
              local mount=$1 wait=$2 root pattern link dev="" waited code uuid
              shift 2
              root=$(findmnt -no SOURCE / | head -n 1)
              root=/dev/$(lsblk -no PKNAME "$root" 2> /dev/null | head -n 1 || true)
              [ "$root" != /dev/ ] || root=$(findmnt -no SOURCE / | head -n 1)
              for ((waited = 0; waited <= wait; waited += 2)); do
                for pattern in "$@"; do
                  for link in $pattern; do
                    case "$link" in *-part[0-9]*) continue ;; esac
                    [ -b "$link" ] || continue
                    link=$(readlink -f "$link")
                    case "$link" in "$root"*) continue ;; esac
                    dev=$link; break 3
                  done
                done
                sleep 2
              done
              [ -n "$dev" ] || { fail "no data volume attached within ${wait}s (looked for $*)"; return 1; }
              code=0; blkid -p "$dev" > /dev/null 2>&1 || code=$?
              if [ "$code" = 2 ]; then
                log "formatting the empty data volume $dev"
                mkfs.ext4 -q -L {{DataVolume.Label}} "$dev"
              elif [ "$code" != 0 ]; then
                fail "cannot tell whether $dev holds data (blkid exit $code): not formatting it"; return 1
              fi
              uuid=$(blkid -s UUID -o value "$dev")
              [ -n "$uuid" ] || { fail "$dev has no filesystem UUID (a partition table?): not mounting it"; return 1; }
              mkdir -p "$mount"
              grep -q "^UUID=$uuid " "$FSTAB" 2> /dev/null || echo "UUID=$uuid $mount ext4 defaults,nofail 0 2" >> "$FSTAB"
              mountpoint -q "$mount" || mount "$dev" "$mount"
              log "data volume $dev (UUID $uuid) mounted at $mount"
            }

            # Makes directory $2 live on the volume at $1 (a bind mount, recorded in FSTAB).
            bind_on_volume() {
              mkdir -p "$1" "$2"
              grep -q "^$1 $2 " "$FSTAB" 2> /dev/null || echo "$1 $2 none bind,nofail 0 0" >> "$FSTAB"
              mountpoint -q "$2" || mount --bind "$1" "$2"
            }

            # Prints this server's IPv4 address in network $1 (empty when it has none yet).
            site_address() {
              ip -4 -o addr show | awk '{ print $4 }' | python3 -c '
            import ipaddress, sys
            net = ipaddress.ip_network(sys.argv[1])
            print(next((a.split("/")[0] for a in sys.stdin.read().split() if ipaddress.ip_interface(a).ip in net), ""))' "$1"
            }

            # PostgreSQL listens on localhost and on this server's address in the site's network $1, and admits
            # password logins from that network only; the firewall keeps the port off the public side.
            configure_postgres() {
              local address="" conf try
              for ((try = 0; try < 60; try++)); do
                address=$(site_address "$1") || true
                [ -z "$address" ] || break
                sleep 2
              done
              [ -n "$address" ] || { fail "no address in the site network $1 after 120 s: the app servers cannot reach PostgreSQL"; return 1; }
              conf=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -type d | head -n 1)
              printf "listen_addresses = 'localhost,%s'\n" "$address" > "$conf/conf.d/failover.conf"
              grep -qF "host all all $1 scram-sha-256" "$conf/pg_hba.conf" || printf 'host all all %s scram-sha-256\n' "$1" >> "$conf/pg_hba.conf"
              systemctl restart postgresql
              log "PostgreSQL listens on localhost and $address; logins from $1 only"
            }
            """;
    }
}

/// <summary>
/// POSIX shell quoting: plain words stay as they are, printable ASCII is single-quoted, and anything else (control
/// characters, line or paragraph separators, any non-ASCII) is written as bash's $'...' with \xHH bytes, so a quoted
/// word is always one line of printable ASCII and cannot break out of a script, a comment or a YAML block.
/// </summary>
public static class Sh
{
    public static string Quote(string word)
    {
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ':' or '=' or '@' or '%' or '+' or ','))
            return word;
        if (word.All(c => c is >= ' ' and <= '~'))
            return "'" + word.Replace("'", "'\\''") + "'";
        var s = new StringBuilder("$'");
        foreach (var b in Encoding.UTF8.GetBytes(word))
            s.Append(b switch
            {
                (byte)'\\' => "\\\\",
                (byte)'\'' => "\\'",
                >= 0x20 and <= 0x7e => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        return s.Append('\'').ToString();
    }
}
