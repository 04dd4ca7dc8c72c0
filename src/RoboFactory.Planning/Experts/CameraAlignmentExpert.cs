using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// CameraAlignment, as upstream: agents 0 and 1 go to the camera's two grips (each the one nearer its base) while
/// agent 2 goes to the meat; they grasp, and all three lift together — the camera by 0.15 m, held level between
/// the two arms and brought to the middle of their bases (so neither arm ends at the edge of its reach), the meat
/// by 0.25 m — then hold.
/// </summary>
public sealed class CameraAlignmentExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, CameraLift = 0.15, MeatLift = 0.25;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var camera = env.ObjectPose("camera");
        var grasps = new Pose[3];
        TwoEndGrasps(ex, "camera").CopyTo(grasps, 0);
        var meat = env.ObjectPose("meat");
        var meatPoint = meat.Transform(env.Task.Object("meat").GraspPoints[0]);
        grasps[2] = new Pose(meatPoint, TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(2).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo(grasps.Select((g, i) => (i, Raised(g, ApproachHeight))).ToArray());
        ex.MoveTo(grasps.Select((g, i) => (i, g)).ToArray());
        ex.Gripper(close: true, 0, 1, 2);
        var mid = (env.BasePose(0).P + env.BasePose(1).P) / 2;
        var toMiddle = new Vec3(0, mid.Y - camera.P.Y, CameraLift); // along the line between the two bases
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + toMiddle }), (1, grasps[1] with { P = grasps[1].P + toMiddle }),
            (2, Raised(grasps[2], MeatLift)));
        ex.Hold(20);
    }

    private static Pose Raised(Pose p, double dz) => p with { P = p.P + new Vec3(0, 0, dz) };
}
