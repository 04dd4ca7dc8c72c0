using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// PlaceFood, after upstream's two-arm script: agent 1 grasps the pot lid's handle while agent 0 grasps the meat;
/// agent 1 lifts the lid and holds it aside (toward its own base) while agent 0 carries the meat over the pot and
/// drops it in just inside the near rim; agent 0 backs away and agent 1 puts the lid back on. Upstream's pot
/// annotation (contact 3, target pose 0) is not available: the lid's handle and the pot centre stand in for them.
/// </summary>
public sealed class PlaceFoodExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, MeatLift = 0.15, LidLift = 0.2, LidAside = 0.2;
    /// <summary>The meat is released this far above the rim, this far from the pot centre toward agent 0.</summary>
    public const double DropClearance = 0.03, DropOffset = 0.03;
    public const double RetreatHeight = 0.3, RetreatBack = 0.2;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var pot = env.ObjectPose("pot").P;
        var lid = env.ObjectPose("lid");
        var meat = env.ObjectPose("meat");
        double rim = lid.P.Z; // the lid rests on the rim
        var handle = new Pose(lid.Transform(env.Task.Object("lid").GraspPoints[0]),
            TopDownGrasp(lid.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(1).Q.Rotate(Vec3.UnitY)));
        var meatGrasp = new Pose(meat.Transform(env.Task.Object("meat").GraspPoints[0]),
            TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, Raised(meatGrasp, ApproachHeight)), (1, Raised(handle, ApproachHeight)));
        ex.MoveTo((0, meatGrasp), (1, handle));
        ex.Gripper(close: true, 0, 1);

        // lid up and aside while the meat comes up
        var towardAgent1 = Planar(env.BasePose(1).P - pot);
        var lidAside = handle with { P = handle.P + towardAgent1 * LidAside + new Vec3(0, 0, LidLift) };
        ex.MoveTo((0, Raised(meatGrasp, MeatLift)), (1, lidAside));

        // meat over the pot, released just above the rim
        var inHand = env.ObjectPose("meat").P - env.TcpPose(0).P;
        var towardAgent0 = Planar(env.BasePose(0).P - pot);
        var drop = pot + towardAgent0 * DropOffset;
        var release = new Pose(new Vec3(drop.X, drop.Y, rim + DropClearance) - inHand, meatGrasp.Q);
        ex.MoveTo((0, Raised(release, 0.05)));
        ex.MoveTo((0, release));
        ex.Gripper(close: false, 0);
        ex.MoveTo((0, new Pose((release.P + towardAgent0 * RetreatBack) with { Z = RetreatHeight }, release.Q)));

        // lid back on the pot
        ex.MoveTo((1, Raised(handle, 0.05)));
        ex.MoveTo((1, Raised(handle, 0.005)));
        ex.Gripper(close: false, 1);
        ex.MoveTo((1, Raised(handle, ApproachHeight)));
        ex.Hold(10);
    }

    private static Pose Raised(Pose p, double dz) => p with { P = p.P + new Vec3(0, 0, dz) };

    private static Vec3 Planar(Vec3 v) => new Vec3(v.X, v.Y, 0).Normalized();
}
