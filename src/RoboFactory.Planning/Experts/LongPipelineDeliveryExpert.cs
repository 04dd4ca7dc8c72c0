using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// LongPipelineDelivery, as upstream: a relay 3 → 2 → 1 → 0. Each agent grasps the shoe by its collar from above,
/// lifts it, carries it to 0.6 m in front of its base and halfway to the next base, sets it down and opens; it
/// backs away while the next agent comes in over the shoe. Agent 0 sets the shoe down in the goal region instead
/// (slightly toward its own base, which keeps the far goal positions within reach).
/// </summary>
public sealed class LongPipelineDeliveryExpert : TaskExpert
{
    public const double ApproachHeight = 0.1, CarryHeight = 0.08, HandoverReach = 0.6, ReleaseClearance = 0.01;
    public const double GoalInset = 0.03, RetreatHeight = 0.3, RetreatBack = 0.15;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        int last = env.AgentCount - 1;
        ex.MoveTo((last, Raised(CollarGrasp(ex, last), ApproachHeight)));
        for (int agent = last; agent >= 0; agent--)
        {
            var grasp = CollarGrasp(ex, agent);
            ex.MoveTo((agent, grasp));
            ex.Gripper(close: true, agent);
            ex.MoveTo((agent, Raised(grasp, CarryHeight)));

            var basePos = env.BasePose(agent).P;
            Vec3 target;
            if (agent > 0)
            {
                var nextBase = env.BasePose(agent - 1).P;
                target = new Vec3(basePos.X + HandoverReach, (basePos.Y + nextBase.Y) / 2, 0);
            }
            else
            {
                var goal = env.ObjectPose("goal_region").P;
                target = goal + Planar(basePos - goal) * GoalInset;
            }
            var release = SetDown(ex, agent, target);
            ex.Gripper(close: false, agent);

            var back = Planar(basePos - release.P) * RetreatBack;
            var retreat = new Pose(new Vec3(release.P.X + back.X, release.P.Y + back.Y, RetreatHeight), release.Q);
            if (agent > 0)
            {
                // the next agent comes in over the shoe while this one backs away (the arms never touch each other)
                var next = Raised(CollarGrasp(ex, agent - 1), ApproachHeight);
                ex.MoveTo((agent, retreat), (agent - 1, next));
            }
            else ex.MoveTo((agent, retreat));
        }
        ex.Hold(10);
    }

    /// <summary>Top-down grasp of the shoe's collar, fingers closing across the shoe, in the wrist turn nearest the arm's current one.</summary>
    private static Pose CollarGrasp(MotionExecutor ex, int agent)
    {
        var shoe = ex.Env.ObjectPose("shoe");
        var collar = shoe.Transform(ex.Env.Task.Object("shoe").GraspPoints[0]);
        return new Pose(collar, TopDownGrasp(shoe.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(agent).Q.Rotate(Vec3.UnitY)));
    }

    /// <summary>Carries the held shoe so that its sole centre is over <paramref name="target"/> and lowers it to just above the table; returns the release pose.</summary>
    private static Pose SetDown(MotionExecutor ex, int agent, Vec3 target)
    {
        var env = ex.Env;
        var inHand = env.ObjectPose("shoe").P - env.TcpPose(agent).P;
        var q = ex.CommandedTcp(agent).Q;
        var release = new Pose(new Vec3(target.X, target.Y, ReleaseClearance) - inHand, q);
        ex.MoveTo((agent, Raised(release, CarryHeight)));
        ex.MoveTo((agent, release));
        return release;
    }
}
