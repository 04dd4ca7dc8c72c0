using RoboFactory.Core.Imaging;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Sim.Env;

/// <summary>What one agent observes: joint state, TCP pose (world frame, x y z qw qx qy qz) and its three views.</summary>
public sealed record AgentObservation(
    double[] Qpos,
    double[] Qvel,
    Pose TcpPose,
    Image8? HeadCamera,
    Image8? GlobalCamera,
    Image8? WristCamera)
{
    /// <summary>Measured 8-D joint state as stored in datasets: 7 arm joints + gripper opening (sum of both fingers, m).</summary>
    public float[] JointState()
    {
        var s = new float[8];
        for (int j = 0; j < 7; j++) s[j] = (float)Qpos[j];
        s[7] = (float)(Qpos[7] + Qpos[8]);
        return s;
    }
}

public sealed record Observation(IReadOnlyList<AgentObservation> Agents, int ElapsedSteps);

/// <param name="Unstable">MuJoCo reported NaN/Inf/huge accelerations; the episode is over and failed</param>
/// <param name="Warnings">MuJoCo warnings raised during this step (surfaced, never swallowed)</param>
/// <param name="Evaluation">the task's sub-conditions after this step; null when the simulation became unstable</param>
public sealed record StepInfo(int ElapsedSteps, bool Success, bool Unstable, string? FailureReason, IReadOnlyList<string> Warnings,
    TaskEvaluation? Evaluation);

/// <param name="Truncated">the episode reached max_episode_steps, or the simulation became unstable</param>
public sealed record StepResult(Observation Observation, bool Success, bool Truncated, StepInfo Info);
