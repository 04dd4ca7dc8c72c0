using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// TakePhoto, as upstream: agents 0 and 1 grasp the camera's two grips and agent 2 the meat (approaching from 0.1 m
/// above) while agent 3 closes its fingers; agents 0 and 1 lift the camera by 0.15 m (brought to the middle of their
/// bases, as in CameraAlignment) while agent 2 holds the meat up 0.7 m in front of its base, before the lens; then agent
/// 3 comes over the shutter button and presses it with its fingertips, and everyone holds.
/// </summary>
public sealed class TakePhotoExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, MeatApproach = 0.1, CameraLift = 0.15, MeatLift = 0.25, MeatHoldReach = 0.7;
    /// <summary>Agent 3 hovers this far above the button, then lowers its closed fingertips (9 mm below the TCP) this far into it.</summary>
    public const double ButtonHover = 0.06, FingertipBelowTcp = 0.009, PressDepth = 0.003;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var camera = env.ObjectPose("camera");
        var cameraCfg = env.Task.Object("camera");
        var grasps = new Pose[3];
        TwoEndGrasps(ex, "camera").CopyTo(grasps, 0);
        var meat = env.ObjectPose("meat");
        grasps[2] = new Pose(meat.Transform(env.Task.Object("meat").GraspPoints[0]),
            TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(2).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, Raised(grasps[0], ApproachHeight)), (1, Raised(grasps[1], ApproachHeight)), (2, Raised(grasps[2], MeatApproach)));
        ex.MoveTo(grasps.Select((g, i) => (i, g)).ToArray());
        ex.Gripper(close: true, 0, 1, 2, 3);

        var mid = (env.BasePose(0).P + env.BasePose(1).P) / 2;
        var toMiddle = new Vec3(0, mid.Y - camera.P.Y, CameraLift);
        var base2 = env.BasePose(2);
        var front = base2.P + base2.Q.Rotate(Vec3.UnitX) * MeatHoldReach;
        var meatUp = grasps[2] with { P = new Vec3(front.X, front.Y, grasps[2].P.Z + MeatLift) };
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + toMiddle }), (1, grasps[1] with { P = grasps[1].P + toMiddle }), (2, meatUp));

        var button = env.ObjectPose("camera").Transform(cameraCfg.GraspPoints[3]);
        var press = new Pose(button + new Vec3(0, 0, FingertipBelowTcp - PressDepth),
            TopDownGrasp(Vec3.UnitY, ex.CommandedTcp(3).Q.Rotate(Vec3.UnitY)));
        ex.MoveTo((3, Raised(press, ButtonHover)));
        ex.MoveTo((3, press));
        ex.Hold(20);
    }

    private static Pose Raised(Pose p, double dz) => p with { P = p.P + new Vec3(0, 0, dz) };
}
