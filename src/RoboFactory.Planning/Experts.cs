using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>Result of one expert episode.</summary>
public sealed record ExpertOutcome(int Seed, bool Success, int Steps, string? FailureReason);

/// <summary>A scripted expert: the part of a task that cannot be data besides its success check.</summary>
public abstract class TaskExpert
{
    /// <summary>Runs the scripted solution on an environment that was just reset.</summary>
    protected abstract void Solve(MotionExecutor ex);

    /// <summary>Resets to <paramref name="seed"/>, runs the script, and reports success as the environment judges it at the last step.</summary>
    public ExpertOutcome Run(MultiAgentEnv env, int seed, StepCallback? onStep = null)
    {
        var obs = env.Reset(seed);
        using var ex = new MotionExecutor(env, obs, onStep);
        try
        {
            Solve(ex);
        }
        catch (ExpertAbortedException e)
        {
            return new ExpertOutcome(seed, false, ex.Steps, e.Message);
        }
        bool success = ex.Last?.Success ?? false;
        return new ExpertOutcome(seed, success, ex.Steps, success ? null : "task not solved at the end of the script");
    }

    /// <summary>Top-down grasp orientation: TCP z along world −z, fingers closing along the horizontal <paramref name="closingAxis"/>.</summary>
    public static Quat TopDownGrasp(Vec3 closingAxis, Vec3 preferY)
    {
        var y = new Vec3(closingAxis.X, closingAxis.Y, 0).Normalized();
        if (y.Dot(preferY) < 0) y = -y; // the gripper is symmetric: pick the side that needs less wrist rotation
        var z = new Vec3(0, 0, -1);
        var x = y.Cross(z);
        return Quat.FromMatrix([x.X, y.X, z.X, x.Y, y.Y, z.Y, x.Z, y.Z, z.Z]);
    }
}

/// <summary>
/// LiftBarrier: both arms move together to the annotated grasp points near the two ends of the barrier
/// (each arm takes the one nearer its base), close, lift together by 0.2 m, and hold for 20 steps.
/// </summary>
public sealed class LiftBarrierExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, LiftHeight = 0.2;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var barrierCfg = env.Task.Object("barrier");
        var barrier = env.ObjectPose("barrier");
        var ends = barrierCfg.GraspPoints.Skip(1).Take(2).Select(barrier.Transform).ToArray();
        var rail = barrier.Q.Rotate(Vec3.UnitX);
        var closing = new Vec3(-rail.Y, rail.X, 0);

        var grasps = new Pose[2];
        for (int i = 0; i < 2; i++)
        {
            var basePos = env.BasePose(i).P;
            var point = ends.OrderBy(p => (p - basePos).Length).First();
            var preferY = ex.CommandedTcp(i).Q.Rotate(Vec3.UnitY);
            grasps[i] = new Pose(point, TopDownGrasp(closing, preferY));
        }
        if (grasps[0].P == grasps[1].P) throw new ExpertAbortedException("both arms chose the same grasp point");

        Vec3 up(double h) => new(0, 0, h);
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + up(ApproachHeight) }), (1, grasps[1] with { P = grasps[1].P + up(ApproachHeight) }));
        ex.MoveTo((0, grasps[0]), (1, grasps[1]));
        ex.Gripper(close: true, 0, 1);
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + up(LiftHeight) }), (1, grasps[1] with { P = grasps[1].P + up(LiftHeight) }));
        ex.Hold(20);
    }
}

/// <summary>Maps task names to their experts.</summary>
public static class ExpertRegistry
{
    public static TaskExpert Get(string task)
    {
        string name = Sim.Tasks.TaskRegistry.Get(task).Name;
        return name switch
        {
            "LiftBarrier" => new LiftBarrierExpert(),
            _ => throw new ArgumentException($"task {name} has no scripted expert yet"),
        };
    }
}
