using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// StackCube (ManiSkill's check): cube A rests on cube B. Upstream also reports whether A is static and ungrasped,
/// but success does not require it.
/// </summary>
public sealed class StackCubeTask(TaskConfig config) : TaskLogic(config)
{
    private readonly StackTolerance tolerance = StackTolerance.From(config.Success);
    private readonly string cubeA = config.Object("cubeA").Name, cubeB = config.Object("cubeB").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env) =>
        new(new TaskCondition("cube_a_on_cube_b", tolerance.IsOnTop(env.ObjectPose(cubeA).P, env.ObjectPose(cubeB).P)));
}

/// <summary>
/// "Top is on bottom" as ManiSkill's stack tasks judge it: horizontal offset ‖Δxy‖ ≤ xy_tolerance and
/// |Δz − stack_height| ≤ z_tolerance (centres of two equal cubes).
/// </summary>
public sealed record StackTolerance(double Xy, double Height, double Z)
{
    public static StackTolerance From(SuccessThresholds s) => new(s["xy_tolerance"], s["stack_height"], s["z_tolerance"]);

    public bool IsOnTop(Vec3 top, Vec3 bottom)
    {
        var d = top - bottom;
        return System.Math.Sqrt(d.X * d.X + d.Y * d.Y) <= Xy && System.Math.Abs(d.Z - Height) <= Z;
    }
}
