using Failover.Driver.Cli;
using Failover.Driver.Emulation.PulumiCli;

// `failover pulumi-emulator ARGS`: the emulated `pulumi` the cloud drill runs (hidden; docs/server-emulation.md).
if (args is [EmulatorProgram.Verb, .. var rest]) return EmulatorProgram.Run(rest);
return new App(Console.Out, Console.Error, Environment.CurrentDirectory).Run(args);
