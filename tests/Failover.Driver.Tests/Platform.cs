// The tests drive Unix tools (runuser, pg_ctl, pdns_server) through the driver: like it, they are not built for Windows.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
