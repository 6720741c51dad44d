// The stand-in `pulumi` of the tests: the driver's pulumi emulator (src/Failover.Driver/Emulation/PulumiCli), run as pulumi.dll.
return Failover.Driver.Emulation.PulumiCli.EmulatorProgram.Run(args);
