// The driver runs Unix tools (runuser, pg_ctl, pdns_server) and sets Unix file modes: it is not built for Windows.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
