// The stand-in `pulumi` of the tests: the driver's pulumi emulator (src/Failover.Driver/Emulation/PulumiCli), run as pulumi.dll.
// Like the driver it runs on Linux and macOS only (setsid, nsenter, systemd-nspawn).
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

return Failover.Driver.Emulation.PulumiCli.EmulatorProgram.Run(args);
