using RoboFactory.Sim.Env;
using Xunit.Abstractions;

namespace RoboFactory.Planning.Tests;

public class ExpertTests(ITestOutputHelper output)
{
    [Fact]
    public void LiftBarrierExpertSolvesMostSeeds()
    {
        using var env = TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(RenderObservations: false));
        var expert = TaskRegistry.CreateExpert("LiftBarrier-rf");
        int ok = 0;
        for (int seed = 0; seed < 10; seed++)
        {
            var r = expert.Run(env, seed);
            output.WriteLine($"seed {seed}: success {r.Success} steps {r.Steps} {r.FailureReason}");
            if (r.Success) ok++;
        }
        Assert.True(ok >= 9, $"{ok}/10 seeds solved");
    }
}
