using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// ThreeRobotsStackCube, as upstream: agents 0, 1 and 2 grasp cubes A, B and C together (top-down, fingers closing
/// across two faces), lift, and then stack in order — agent 0 puts A down in the goal region, agent 1 puts B on A,
/// agent 2 puts C on B — each opening and backing away before the next arm comes in. The stack goes on the point
/// of the goal region that is easiest for all three arms to reach (the goal centre itself is at the limit of
/// agent 2's reach). Placements use the measured pose of the cube in the hand and of the cube below, so grasp
/// slip does not accumulate up the stack.
/// </summary>
public sealed class ThreeRobotsStackCubeExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, CarryHeight = 0.22, CubeSize = 0.04, ReleaseClearance = 0.004;
    /// <summary>After releasing, the hand goes up and back toward its base so it is clear of the next cube.</summary>
    public const double RetreatHeight = 0.25, RetreatBack = 0.2;
    private static readonly string[] Cubes = ["cubeA", "cubeB", "cubeC"];

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var grasps = Enumerable.Range(0, Cubes.Length).Select(i => FaceGrasp(env.ObjectPose(Cubes[i]), ex.CommandedTcp(i).Q)).ToArray();
        ex.MoveTo(grasps.Select((g, i) => (i, Raised(g, ApproachHeight))).ToArray());
        ex.MoveTo(grasps.Select((g, i) => (i, g)).ToArray());
        ex.Gripper(close: true, 0, 1, 2);
        ex.MoveTo(grasps.Select((g, i) => (i, g with { P = g.P with { Z = CarryHeight } })).ToArray());

        var site = StackSite(env);
        var below = new Vec3(site.X, site.Y, CubeSize / 2 - CubeSize); // a virtual cube under A: A goes on the table
        for (int i = 0; i < Cubes.Length; i++)
        {
            if (i > 0) below = env.ObjectPose(Cubes[i - 1]).P;
            PlaceOn(ex, i, Cubes[i], below + new Vec3(0, 0, CubeSize + ReleaseClearance));
        }
        ex.Hold(10);
    }

    /// <summary>Top-down grasp of a box-shaped object at its centre, closing along whichever face normal needs the least wrist turn.</summary>
    public static Pose FaceGrasp(Pose box, Quat currentTcp)
    {
        var preferY = currentTcp.Rotate(Vec3.UnitY);
        var ax = box.Q.Rotate(Vec3.UnitX);
        var ay = box.Q.Rotate(Vec3.UnitY);
        var closing = System.Math.Abs(ax.Dot(preferY)) >= System.Math.Abs(ay.Dot(preferY)) ? ax : ay;
        return new Pose(box.P, TopDownGrasp(closing, preferY));
    }

    /// <summary>Brings the held cube to <paramref name="cubeTarget"/>, opens, and backs away toward the arm's base.</summary>
    private static void PlaceOn(MotionExecutor ex, int agent, string cube, Vec3 cubeTarget)
    {
        var env = ex.Env;
        var inHand = env.ObjectPose(cube).P - env.TcpPose(agent).P; // where the cube sits relative to the real TCP
        var q = ex.CommandedTcp(agent).Q;
        var place = new Pose(cubeTarget - inHand, q);
        ex.MoveTo((agent, Raised(place, ApproachHeight)));
        ex.MoveTo((agent, place));
        ex.Gripper(close: false, agent);
        var basePos = env.BasePose(agent).P;
        var back = new Vec3(basePos.X - place.P.X, basePos.Y - place.P.Y, 0).Normalized() * RetreatBack;
        ex.MoveTo((agent, new Pose(new Vec3(place.P.X + back.X, place.P.Y + back.Y, RetreatHeight), q)));
    }

    /// <summary>The point of the goal region (kept a cube's width inside its rim) whose farthest arm base is nearest.</summary>
    private static Vec3 StackSite(MultiAgentEnv env)
    {
        var goal = env.ObjectPose("goal_region").P;
        double radius = env.Task.Success["goal_radius"] - CubeSize;
        var bases = Enumerable.Range(0, env.AgentCount).Select(i => env.BasePose(i).P).ToArray();
        var best = goal;
        double bestReach = double.MaxValue;
        const int n = 40;
        for (int ix = -n; ix <= n; ix++)
            for (int iy = -n; iy <= n; iy++)
            {
                var p = goal + new Vec3(ix * radius / n, iy * radius / n, 0);
                if ((p - goal).Length > radius) continue;
                double reach = bases.Max(b => System.Math.Sqrt((p.X - b.X) * (p.X - b.X) + (p.Y - b.Y) * (p.Y - b.Y)));
                if (reach < bestReach) (best, bestReach) = (p, reach);
            }
        return best;
    }
}
