using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Env;

/// <summary>An RGB image, rows top-down, H·W·3 bytes (HWC).</summary>
public sealed class CameraImage(string name, int width, int height, byte[] rgb)
{
    public string Name { get; } = name;
    public int Width { get; } = width;
    public int Height { get; } = height;
    public byte[] Rgb { get; } = rgb.Length == width * height * 3
        ? rgb : throw new ArgumentException($"{name}: expected {width * height * 3} bytes, got {rgb.Length}");
}

/// <summary>What one agent observes: joint state, TCP pose (world frame, x y z qw qx qy qz) and its three views.</summary>
public sealed record AgentObservation(
    double[] Qpos,
    double[] Qvel,
    Pose TcpPose,
    CameraImage? HeadCamera,
    CameraImage? GlobalCamera,
    CameraImage? WristCamera)
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
public sealed record StepInfo(int ElapsedSteps, bool Success, bool Unstable, string? FailureReason, IReadOnlyList<string> Warnings);

/// <param name="Truncated">the episode reached max_episode_steps, or the simulation became unstable</param>
public sealed record StepResult(Observation Observation, bool Success, bool Truncated, StepInfo Info);
