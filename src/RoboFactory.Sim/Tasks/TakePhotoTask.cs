using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// TakePhoto, as upstream: agent 3's TCP is over the shutter button point b = camera xy + (success.button_dx,
/// success.button_dy) (world axes) within success.button_tolerance on both x and y; the camera and the meat are higher
/// than success.lift_height; and agent 2 still holds the meat (its TCP y − meat y &lt; success.meat_hold_dy, upstream's
/// one-sided check).
/// </summary>
public sealed class TakePhotoTask(TaskConfig config) : TaskLogic(config)
{
    public const int MeatHolder = 2, Photographer = 3;

    private readonly double buttonDx = config.Success["button_dx"];
    private readonly double buttonDy = config.Success["button_dy"];
    private readonly double buttonTolerance = config.Success["button_tolerance"];
    private readonly double liftHeight = config.Success["lift_height"];
    private readonly double meatHoldDy = config.Success["meat_hold_dy"];
    private readonly string camera = config.Object("camera").Name;
    private readonly string meat = config.Object("meat").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var c = env.ObjectPose(camera).P;
        var m = env.ObjectPose(meat).P;
        var finger = env.TcpPose(Photographer).P;
        bool pressing = System.Math.Abs(finger.X - (c.X + buttonDx)) < buttonTolerance
            && System.Math.Abs(finger.Y - (c.Y + buttonDy)) < buttonTolerance;
        return new(
            new("button_pressed", pressing),
            new("camera_lifted", c.Z > liftHeight),
            new("meat_lifted", m.Z > liftHeight),
            new("meat_held", env.TcpPose(MeatHolder).P.Y - m.Y < meatHoldDy));
    }
}
