using Failover.Infra;
using Pulumi;

// One program for every stack: the stack's role in its Pulumi.<stack>.yaml says what it builds.
return await Deployment.RunAsync(() => FailoverStack.Build(StackInputs.Load()));
