using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// PlaceFood, after upstream's `solutions/place_food.py`: agent 1 grasps the handle of the pot's lid (a part on a
/// vertical slide joint) while agent 0 grasps the meat; both lift together, the lid by <see cref="LidLift"/> and the
/// meat by <see cref="MeatLift"/>; agent 0 carries the meat under the raised lid and drops it just inside the near rim,
/// while agent 1 holds the lid up. Upstream's pot annotation (contact 3, target pose 0) is not available: the lid's
/// handle and the pot centre stand in for them.
/// </summary>
public sealed class PlaceFoodExpert : TaskExpert
{
    /// <summary>Approach heights over the grasps (upstream: +0.2 for the lid, +0.15 for the meat) and the lifts (0.3, 0.15).</summary>
    public const double LidApproach = 0.2, MeatApproach = 0.15, LidLift = 0.3, MeatLift = 0.15;
    /// <summary>The meat is released this far above the rim, this far from the pot centre toward agent 0.</summary>
    public const double DropClearance = 0.03, DropOffset = 0.05;
    /// <summary>Agent 0's hand pitches this far from vertical (rad) to carry the meat under the lid.</summary>
    public const double ReleasePitch = 1.0;

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

        ex.MoveTo((0, Raised(meatGrasp, MeatApproach)), (1, Raised(handle, LidApproach)));
        ex.MoveTo((0, meatGrasp), (1, handle));
        ex.Gripper(close: true, 0, 1);
        ex.MoveTo((0, Raised(meatGrasp, MeatLift)), (1, Raised(handle, LidLift)));

        // the meat under the raised lid, released just above the rim; the lid stays up. A top-down hand would put
        // agent 0's wrist into the lid (0.3 m over the rim is as high as agent 1 reaches), so the hand pitches
        // toward the pot: the wrist stays low and behind the lid's edge.
        var tcp = env.TcpPose(0);
        var inHand = tcp.Q.Conjugate.Rotate(env.ObjectPose("meat").P - tcp.P); // the meat in the TCP frame
        var towardAgent0 = Planar(env.BasePose(0).P - pot);
        var closing = meatGrasp.Q.Rotate(Vec3.UnitY);
        var tilt = Quat.FromAxisAngle(closing, ReleasePitch);
        if (tilt.Rotate(new Vec3(0, 0, -1)).Dot(towardAgent0) > 0) tilt = Quat.FromAxisAngle(closing, -ReleasePitch);
        var q = tilt * meatGrasp.Q;
        var drop = pot + towardAgent0 * DropOffset;
        Pose ReleaseAt(double dz) => new(new Vec3(drop.X, drop.Y, rim + DropClearance + dz) - q.Rotate(inHand), q);
        ex.MoveTo((0, ReleaseAt(0.05)));
        ex.MoveTo((0, ReleaseAt(0)));
        ex.Gripper(close: false, 0);
        ex.Hold(10);
    }
}
