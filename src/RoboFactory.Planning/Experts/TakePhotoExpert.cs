using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// TakePhoto, after upstream's `solutions/take_photo.py`: agents 0 and 1 bring their open hands to the camera rig's
/// two ends (as in CameraAlignment, <see cref="TaskExpert.TwoEndSupports"/>) and agent 2 grasps the meat (approaching
/// from 0.1 m above) while agent 3 closes its fingers; agents 0 and 1 lift the camera by 0.15 m on their open hands
/// while agent 2 holds the meat up 0.7 m in front of its base, before the lens; then agent 3 comes over the shutter
/// button and presses it with its fingertips, and everyone holds.
/// </summary>
public sealed class TakePhotoExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, MeatApproach = 0.1, CameraLift = 0.15, MeatLift = 0.25, MeatHoldReach = 0.7;
    /// <summary>Agent 3 hovers this far above the button, then lowers its closed fingertips (9 mm below the TCP) this far into it.</summary>
    public const double ButtonHover = 0.06, FingertipBelowTcp = 0.009, PressDepth = 0.003;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var cameraCfg = env.Task.Object("camera");
        var supports = TwoEndSupports(ex, "camera", CameraAlignmentExpert.SupportPitch, CameraAlignmentExpert.SupportOffset);
        var meat = env.ObjectPose("meat");
        var meatGrasp = new Pose(meat.Transform(env.Task.Object("meat").GraspPoints[0]),
            TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(2).Q.Rotate(Vec3.UnitY)));

        var outside = BackedOff(supports, CameraAlignmentExpert.SlideIn);
        ex.MoveTo((0, Raised(outside[0], ApproachHeight)), (1, Raised(outside[1], ApproachHeight)), (2, Raised(meatGrasp, MeatApproach)));
        ex.MoveTo((0, outside[0]), (1, outside[1]), (2, meatGrasp));
        ex.MoveTo((0, supports[0]), (1, supports[1]));
        ex.Gripper(close: true, 2, 3);

        var base2 = env.BasePose(2);
        var front = base2.P + base2.Q.Rotate(Vec3.UnitX) * MeatHoldReach;
        var meatUp = meatGrasp with { P = new Vec3(front.X, front.Y, meatGrasp.P.Z + MeatLift) };
        ex.MoveTo((0, Raised(supports[0], CameraLift)), (1, Raised(supports[1], CameraLift)), (2, meatUp));

        var button = env.ObjectPose("camera").Transform(cameraCfg.GraspPoints[3]);
        var press = new Pose(button + new Vec3(0, 0, FingertipBelowTcp - PressDepth),
            TopDownGrasp(Vec3.UnitY, ex.CommandedTcp(3).Q.Rotate(Vec3.UnitY)));
        ex.MoveTo((3, Raised(press, ButtonHover)));
        ex.MoveTo((3, press));
        ex.Hold(20);
    }
}
