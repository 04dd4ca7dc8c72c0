using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// StrikeCube (upstream): success when the hammer's functional point (the centre of its striking face) is within
/// success.strike_distance of the centre of the cube's top face.
/// </summary>
public sealed class StrikeCubeTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double strikeDistance = config.Success["strike_distance"];
    private readonly double cubeHalf = config.Success["cube_half_size"];
    private readonly string cube = config.Object("cube").Name, hammer = config.Object("hammer").Name;

    /// <summary>The hammer's functional point in its own frame.</summary>
    public Vec3 HammerFace { get; } =
        new(config.Success["hammer_face_x"], config.Success["hammer_face_y"], config.Success["hammer_face_z"]);

    public Vec3 StrikePoint(MultiAgentEnv env) => env.ObjectPose(hammer).Transform(HammerFace);

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var top = env.ObjectPose(cube).P + new Vec3(0, 0, cubeHalf);
        return new(new TaskCondition("hammer_on_cube_top", (top - StrikePoint(env)).Length < strikeDistance));
    }
}
