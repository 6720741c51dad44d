return await Pulumi.Deployment.RunAsync(() => { });
