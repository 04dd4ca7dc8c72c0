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

    /// <summary>
    /// Top-down grasps of agents 0 and 1 at the two ends of a long object (its grasp points 1 and 2, each arm taking
    /// the one nearer its base), fingers closing across the object's x axis (LiftBarrier's rail, the camera rig).
    /// </summary>
    public static Pose[] TwoEndGrasps(MotionExecutor ex, string objectName)
    {
        var env = ex.Env;
        var pose = env.ObjectPose(objectName);
        var ends = env.Task.Object(objectName).GraspPoints.Skip(1).Take(2).Select(pose.Transform).ToArray();
        var axis = pose.Q.Rotate(Vec3.UnitX);
        var across = new Vec3(-axis.Y, axis.X, 0);
        var grasps = new Pose[2];
        for (int i = 0; i < 2; i++)
        {
            var basePos = env.BasePose(i).P;
            var point = ends.OrderBy(p => (p - basePos).Length).First();
            grasps[i] = new Pose(point, TopDownGrasp(across, ex.CommandedTcp(i).Q.Rotate(Vec3.UnitY)));
        }
        if (grasps[0].P == grasps[1].P) throw new ExpertAbortedException($"both arms chose the same grasp point on {objectName}");
        return grasps;
    }

    /// <summary>
    /// Upstream's open-hand lift (CameraAlignment, TakePhoto: agents 0 and 1 lift the camera without closing their
    /// grippers). Each of agents 0 and 1 takes the end of the object nearer its base (grasp point 1 or 2) between its
    /// open fingers: the hand points down and inward along the object's axis, <paramref name="pitch"/> (rad) from
    /// vertical, so the fingers lie one below-outside and one above-inside the end; the TCP sits
    /// <paramref name="offset"/> from the end toward the upper finger. Lifting both hands carries the object in the
    /// cradle of the two lower fingers' pads, which face up and inward. Returns each hand's TCP pose at its end.
    /// </summary>
    public static Pose[] TwoEndSupports(MotionExecutor ex, string objectName, double pitch, double offset)
    {
        var env = ex.Env;
        var pose = env.ObjectPose(objectName);
        var ends = env.Task.Object(objectName).GraspPoints.Skip(1).Take(2).Select(pose.Transform).ToArray();
        var poses = new Pose[2];
        for (int i = 0; i < 2; i++)
        {
            var basePos = env.BasePose(i).P;
            var point = ends.OrderBy(p => (p - basePos).Length).First();
            var inward = Planar(pose.P - point);
            double c = System.Math.Cos(pitch), s = System.Math.Sin(pitch);
            var z = new Vec3(0, 0, -c) + inward * s;        // approach: down and inward
            var up = Vec3.UnitZ * s + inward * c;           // from the lower finger to the upper one
            var y = up.Dot(ex.CommandedTcp(i).Q.Rotate(Vec3.UnitY)) >= 0 ? up : -up; // the gripper is symmetric: less wrist turn
            var x = y.Cross(z);
            poses[i] = new Pose(point + up * offset, Quat.FromMatrix([x.X, y.X, z.X, x.Y, y.Y, z.Y, x.Z, y.Z, z.Z]));
        }
        if (poses[0].P == poses[1].P) throw new ExpertAbortedException($"both arms chose the same end of {objectName}");
        return poses;
    }

    /// <summary>The open hands' starting poses for <see cref="TwoEndSupports"/>: backed off <paramref name="distance"/>
    /// along their approach axes, from where they slide onto the ends.</summary>
    public static Pose[] BackedOff(IEnumerable<Pose> poses, double distance) =>
        poses.Select(p => p with { P = p.P - p.Q.Rotate(Vec3.UnitZ) * distance }).ToArray();

    /// <summary>The pose <paramref name="dz"/> higher, same orientation.</summary>
    protected static Pose Raised(Pose p, double dz) => p with { P = p.P + new Vec3(0, 0, dz) };

    /// <summary>The horizontal direction of <paramref name="v"/>, unit length.</summary>
    protected static Vec3 Planar(Vec3 v) => new Vec3(v.X, v.Y, 0).Normalized();

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
