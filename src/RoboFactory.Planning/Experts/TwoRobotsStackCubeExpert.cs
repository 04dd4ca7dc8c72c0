using RoboFactory.Sim.Math;
using static RoboFactory.Planning.StackCubeExpert;

namespace RoboFactory.Planning;

/// <summary>
/// TwoRobotsStackCube (upstream solution): both arms grasp their cubes at the same time (agent 0 cube A, agent 1
/// cube B) and lift them; agent 0 lowers A onto the goal region's centre, opens and backs off; then agent 1 lowers B
/// onto A where it actually landed, opens and backs off.
/// </summary>
public sealed class TwoRobotsStackCubeExpert : TaskExpert
{
    public const double ApproachHeight = 0.06, LiftHeight = 0.15, CarryClearance = 0.05, PlaceClearance = 0.003, RetreatHeight = 0.12;
    /// <summary>How far agent 0 backs off towards its base after placing A, so that agent 1 has the goal to itself.</summary>
    public const double RetreatBack = 0.15;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        double half = env.Task.Success["stack_height"] / 2;
        var a = env.ObjectPose("cubeA");
        var b = env.ObjectPose("cubeB");
        var graspA = new Pose(a.P, CubeGrasp(a, ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY)));
        var graspB = new Pose(b.P, CubeGrasp(b, ex.CommandedTcp(1).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, graspA with { P = a.P + Up(ApproachHeight) }), (1, graspB with { P = b.P + Up(ApproachHeight) }));
        ex.MoveTo((0, graspA), (1, graspB));
        ex.Gripper(close: true, 0, 1);
        ex.MoveTo((0, graspA with { P = a.P + Up(LiftHeight) }), (1, graspB with { P = b.P + Up(LiftHeight) }));

        // agent 0: A onto the goal centre (cube centre one half size above the table), release, back off
        var goal = env.ObjectPose("goal_region").P;
        var onGoal = new Vec3(goal.X, goal.Y, half + PlaceClearance);
        ex.MoveTo((0, graspA with { P = onGoal + Up(CarryClearance) }));
        ex.MoveTo((0, graspA with { P = onGoal }));
        ex.Gripper(close: false, 0);
        var towardsBase = (env.BasePose(0).P - onGoal) with { Z = 0 };
        ex.MoveTo((0, graspA with { P = onGoal + Up(RetreatHeight) + towardsBase.Normalized() * RetreatBack }));

        // agent 1: B onto A where A actually rests, release, back off upwards
        var aNow = env.ObjectPose("cubeA").P;
        var onA = aNow + Up(2 * half + PlaceClearance);
        ex.MoveTo((1, graspB with { P = onA + Up(CarryClearance) }));
        ex.MoveTo((1, graspB with { P = onA }));
        ex.Gripper(close: false, 1);
        ex.MoveTo((1, graspB with { P = onA + Up(RetreatHeight) }));
    }
}
