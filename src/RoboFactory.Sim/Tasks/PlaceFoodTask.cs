using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Sim.Tasks;

/// <summary>
/// PlaceFood, as upstream: success when the meat is within success.pot_radius of the pot centre in the plane and
/// lower than agent 0's base by less than success.max_height — in the pot, not held above it.
/// </summary>
public sealed class PlaceFoodTask(TaskConfig config) : TaskLogic(config)
{
    private readonly double potRadius = config.Success["pot_radius"];
    private readonly double maxHeight = config.Success["max_height"];
    private readonly string pot = config.Object("pot").Name;
    private readonly string meat = config.Object("meat").Name;

    public override TaskEvaluation Evaluate(MultiAgentEnv env)
    {
        var m = env.ObjectPose(meat).P;
        var p = env.ObjectPose(pot).P;
        double dx = m.X - p.X, dy = m.Y - p.Y;
        return new(
            new("meat_over_pot", dx * dx + dy * dy < potRadius * potRadius),
            new("meat_below_max_height", m.Z < env.BasePose(0).P.Z + maxHeight));
    }
}
