using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Scene;

namespace RoboFactory.Sim.Tests;

/// <summary>
/// An exploding simulation on every task: a body driven into another at a velocity past MuJoCo's limit, or a NaN in
/// the state. The step must report it (unstable, truncated, not a success, with the reason) instead of throwing, and
/// the next reset must give a normal episode, so that an evaluation run goes on.
/// </summary>
public class SimulatorFaultTests
{
    public static TheoryData<string> Tasks() => [.. TaskRegistry.All.Select(t => t.Name)];

    static double[][] Hold(MultiAgentEnv env) =>
        Enumerable.Range(0, env.AgentCount).Select(i => env.Task.Agents[i].InitQpos.Take(7).Append(1.0).ToArray()).ToArray();

    static void AssertUnstable(StepResult r, string what)
    {
        Assert.True(r.Info.Unstable, $"{what}: not reported as unstable");
        Assert.True(r.Truncated, $"{what}: the episode did not end");
        Assert.False(r.Success);
        Assert.Contains("simulation unstable", r.Info.FailureReason);
    }

    [Theory, MemberData(nameof(Tasks))]
    public void AnExplodingState_EndsTheEpisodeWithItsReason_AndTheNextResetRecovers(string task)
    {
        using var env = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: false));
        env.Reset(0);
        // interpenetration at a speed past mjMAXVAL (1e10): the first free object pushed into agent 0's base
        var obj = env.Scene.Objects.FirstOrDefault(o => o.Motion == ObjectMotion.Free);
        var basePos = env.BasePose(0).P;
        if (obj is not null)
        {
            var q = env.Data.Qpos;
            (q[obj.QposAddress], q[obj.QposAddress + 1], q[obj.QposAddress + 2]) = (basePos.X, basePos.Y, basePos.Z + 0.05);
            env.Data.Qvel[obj.DofAddress] = -1e11;
        }
        else env.Data.Qvel[env.Scene.Arms[0].DofAddress[0]] = 1e11;
        AssertUnstable(env.Step(Hold(env)), $"{task}: interpenetration at 1e11 m/s");

        env.Reset(1);
        env.Data.Qpos[env.Scene.Arms[env.AgentCount - 1].QposAddress[3]] = double.NaN;
        AssertUnstable(env.Step(Hold(env)), $"{task}: NaN joint position");

        env.Reset(2);
        var normal = env.Step(Hold(env));
        Assert.False(normal.Info.Unstable, $"{task}: the episode after a fault is unstable too: {normal.Info.FailureReason}");
        Assert.All(env.ArmQpos(0), v => Assert.True(double.IsFinite(v)));
    }
}
