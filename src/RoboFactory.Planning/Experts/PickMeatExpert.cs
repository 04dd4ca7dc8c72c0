using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// PickMeat (upstream solution): go above the meat's annotated contact point 0, descend, close, lift by 0.2 m, hold.
/// The fingers close across the slab (the meat's y axis).
/// </summary>
public sealed class PickMeatExpert : TaskExpert
{
    public const double ApproachHeight = 0.1, LiftHeight = 0.2;

    protected override void Solve(MotionExecutor ex)
    {
        var meat = ex.Env.ObjectPose("meat");
        var point = meat.Transform(ex.Env.Task.Object("meat").GraspPoints[0]);
        var grasp = new Pose(point, TopDownGrasp(meat.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, grasp with { P = point + new Vec3(0, 0, ApproachHeight) }));
        ex.MoveTo((0, grasp));
        ex.Gripper(close: true, 0);
        ex.MoveTo((0, grasp with { P = point + new Vec3(0, 0, LiftHeight) }));
        ex.Hold(10);
    }
}
