using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// CameraAlignment, after upstream's `solutions/camera_alignment.py`: agents 0 and 1 bring their open hands to the
/// camera rig's two ends (each the one nearer its base) while agent 2 goes to the meat; only agent 2 closes; all
/// three lift together — the camera by <see cref="CameraLift"/>, carried on the open hands' lower fingers, the meat
/// by <see cref="MeatLift"/> — then hold. Upstream's contact-point frames are not available: the hands come in
/// pitched along the rig, fingers one below and one above each grip (<see cref="TaskExpert.TwoEndSupports"/>).
/// </summary>
public sealed class CameraAlignmentExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, CameraLift = 0.15, MeatLift = 0.25;
    /// <summary>The open hands start this far back along their approach axis, then slide onto the rig's ends.</summary>
    public const double SlideIn = 0.08;
    /// <summary>The hands' pitch from vertical (rad), and the TCP's offset from a grip's centre toward the upper finger:
    /// an open finger's pad is 0.04 m from the TCP and the 5 × 2.4 cm grip spans ±0.0235 m across the fingers at this
    /// pitch, so the lower pad passes 4-5 mm from it.</summary>
    public const double SupportPitch = 0.5, SupportOffset = 0.008;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var supports = TwoEndSupports(ex, "camera", SupportPitch, SupportOffset);
        var meat = env.ObjectPose("meat");
        var meatGrasp = new Pose(meat.Transform(env.Task.Object("meat").GraspPoints[0]),
            TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(2).Q.Rotate(Vec3.UnitY)));

        var outside = BackedOff(supports, SlideIn);
        ex.MoveTo((0, Raised(outside[0], ApproachHeight)), (1, Raised(outside[1], ApproachHeight)), (2, Raised(meatGrasp, ApproachHeight)));
        ex.MoveTo((0, outside[0]), (1, outside[1]), (2, meatGrasp));
        ex.MoveTo((0, supports[0]), (1, supports[1]));
        ex.Gripper(close: true, 2);
        ex.MoveTo((0, Raised(supports[0], CameraLift)), (1, Raised(supports[1], CameraLift)), (2, Raised(meatGrasp, MeatLift)));
        ex.Hold(20);
    }
}
