using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// PassShoe (upstream solution), a hand-over through the table: agent 0 grasps the shoe from above, lifts it, carries
/// it to the midpoint between the two bases, sets it down, opens and backs off; agent 1 then grasps the shoe where it
/// was left, carries it over the goal region, sets it down and opens. The goal is out of agent 0's reach.
/// </summary>
public sealed class PassShoeExpert : TaskExpert
{
    public const double ApproachHeight = 0.12, LiftHeight = 0.08, PlaceClearance = 0.005;
    /// <summary>Agent 0's retreat after the hand-over: back towards its base and up (upstream: 0.15 m back, base + 0.3 m).</summary>
    public const double RetreatBack = 0.15, RetreatZ = 0.3;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var middle = (env.BasePose(0).P + env.BasePose(1).P) / 2;

        // agent 0: pick, carry to the middle, put down
        var (grasp0, offset0) = ShoeGrasp(env, ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY));
        PickUp(ex, 0, grasp0);
        var put0 = grasp0 with { P = new Vec3(middle.X + offset0.X, middle.Y + offset0.Y, grasp0.P.Z + PlaceClearance) };
        PutDown(ex, 0, put0);
        var back = (env.BasePose(0).P - put0.P) with { Z = 0 };
        ex.MoveTo((0, put0 with { P = new Vec3(put0.P.X, put0.P.Y, env.BasePose(0).P.Z + RetreatZ) + back.Normalized() * RetreatBack }));

        // agent 1: pick the shoe where it lies, carry it over the goal, put down
        var (grasp1, offset1) = ShoeGrasp(env, ex.CommandedTcp(1).Q.Rotate(Vec3.UnitY));
        PickUp(ex, 1, grasp1);
        var goal = env.ObjectPose("goal_region").P;
        PutDown(ex, 1, grasp1 with { P = new Vec3(goal.X + offset1.X, goal.Y + offset1.Y, grasp1.P.Z + PlaceClearance) });
        ex.MoveTo((1, grasp1 with { P = new Vec3(goal.X + offset1.X, goal.Y + offset1.Y, grasp1.P.Z + ApproachHeight) }));
    }

    /// <summary>Top-down grasp at the shoe's contact point, fingers across the vamp; also the grasp point's horizontal offset from the shoe's origin.</summary>
    private static (Pose Grasp, Vec3 Offset) ShoeGrasp(MultiAgentEnv env, Vec3 preferY)
    {
        var shoe = env.ObjectPose("shoe");
        var point = shoe.Transform(env.Task.Object("shoe").GraspPoints[0]);
        return (new Pose(point, TopDownGrasp(shoe.Q.Rotate(Vec3.UnitY), preferY)), (point - shoe.P) with { Z = 0 });
    }

    private static void PickUp(MotionExecutor ex, int agent, Pose grasp)
    {
        ex.MoveTo((agent, grasp with { P = grasp.P + new Vec3(0, 0, ApproachHeight) }));
        ex.MoveTo((agent, grasp));
        ex.Gripper(close: true, agent);
        ex.MoveTo((agent, grasp with { P = grasp.P + new Vec3(0, 0, LiftHeight) }));
    }

    /// <summary>Carries the held shoe above <paramref name="place"/>, lowers it onto the table there and opens.</summary>
    private static void PutDown(MotionExecutor ex, int agent, Pose place)
    {
        ex.MoveTo((agent, place with { P = place.P + new Vec3(0, 0, LiftHeight) }));
        ex.MoveTo((agent, place));
        ex.Gripper(close: false, agent);
    }
}
