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

/// <summary>ThreeRobotsStackCube's release check of cube C: ours tests agent 2 (the arm that carries C), upstream's
/// agent 0 (success.cube_c_release_agent: 0). While agent 2 carries C only ours reports C as held.</summary>
public class ThreeRobotsStackCubeReleaseTests
{
    [Fact]
    public void TheUpstreamCheck_LooksAtAgent0_AndMissesAgent2HoldingC()
    {
        var (config, _) = TaskRegistry.Load("ThreeRobotsStackCube");
        var values = config.Success.Values.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(2, values["cube_c_release_agent"]);
        values["cube_c_release_agent"] = 0;
        var upstream = new RoboFactory.Sim.Tasks.ThreeRobotsStackCubeTask(config with { Success = new RoboFactory.Sim.Config.SuccessThresholds(values, "test") });
        using var env = TaskRegistry.CreateEnv("ThreeRobotsStackCube", new EnvOptions(RenderObservations: false));
        int ours = 0, theirs = 0;
        var r = TaskRegistry.CreateExpert("ThreeRobotsStackCube").Run(env, 0, (_, _, result) =>
        {
            if (result.Info.Evaluation is { } e && !e.Conditions.Single(c => c.Name == "cube_c_released").Met) ours++;
            if (!upstream.Evaluate(env).Conditions.Single(c => c.Name == "cube_c_released").Met) theirs++;
        });
        Assert.True(r.Success);
        Assert.True(ours > 50, $"agent 2 held C on only {ours} steps");
        Assert.Equal(0, theirs); // agent 0 never touches C

        values["cube_c_release_agent"] = 1;
        Assert.Throws<RoboFactory.Sim.Config.ConfigException>(() =>
            new RoboFactory.Sim.Tasks.ThreeRobotsStackCubeTask(config with { Success = new RoboFactory.Sim.Config.SuccessThresholds(values, "test") }));
    }
}
