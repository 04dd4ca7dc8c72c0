using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// LiftBarrier: both arms move together to the annotated grasp points near the two ends of the barrier
/// (each arm takes the one nearer its base), close, lift together by 0.2 m, and hold for 20 steps.
/// </summary>
public sealed class LiftBarrierExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, LiftHeight = 0.2;

    protected override void Solve(MotionExecutor ex)
    {
        var grasps = TwoEndGrasps(ex, "barrier");

        Vec3 up(double h) => new(0, 0, h);
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + up(ApproachHeight) }), (1, grasps[1] with { P = grasps[1].P + up(ApproachHeight) }));
        ex.MoveTo((0, grasps[0]), (1, grasps[1]));
        ex.Gripper(close: true, 0, 1);
        ex.MoveTo((0, grasps[0] with { P = grasps[0].P + up(LiftHeight) }), (1, grasps[1] with { P = grasps[1].P + up(LiftHeight) }));
        ex.Hold(20);
    }
}
