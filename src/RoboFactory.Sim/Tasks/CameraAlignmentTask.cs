using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>CameraAlignment: success when the camera and the meat are both higher than agent 0's base by success.lift_height.</summary>
public sealed class CameraAlignmentTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double liftHeight = config.Success["lift_height"];
    private readonly string camera = config.Object("camera").Name;
    private readonly string meat = config.Object("meat").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        double floor = env.BasePose(0).P.Z + liftHeight;
        return new(
            new("camera_lifted", env.ObjectPose(camera).P.Z > floor),
            new("meat_lifted", env.ObjectPose(meat).P.Z > floor));
    }
}
