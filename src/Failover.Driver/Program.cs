using Failover.Driver.Cli;

return new App(Console.Out, Console.Error, Environment.CurrentDirectory).Run(args);
