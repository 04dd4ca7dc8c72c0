using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Planning;

/// <summary>Called for every environment step an expert takes: the observation the actions were chosen from, the actions, the result.</summary>
public delegate void StepCallback(Observation before, double[][] actions, StepResult result);

/// <summary>The expert could not continue (no IK solution, unstable simulation, out of steps).</summary>
public sealed class ExpertAbortedException(string reason) : Exception(reason);

/// <summary>
/// Executes scripted motions for all arms in lock-step: straight-line Cartesian TCP paths turned into joint
/// trajectories by IK, time-parameterised under joint velocity/acceleration limits and sampled at the control
/// rate; gripper open/close ramps. Arms that are not moving hold their last commanded joints.
/// </summary>
public sealed class MotionExecutor : IDisposable
{
    public MultiAgentEnv Env { get; }
    public Observation Observation { get; private set; }
    public StepResult? Last { get; private set; }
    /// <summary>Steps taken in this episode.</summary>
    public int Steps { get; private set; }
    /// <summary>Joint velocity and acceleration limits for planned motions (upstream: 0.9 rad/s, 0.9 rad/s²).</summary>
    public double VelocityLimit { get; init; } = 0.9;
    public double AccelerationLimit { get; init; } = 0.9;
    /// <summary>Cartesian waypoint spacing for IK along straight-line paths (m).</summary>
    public double PathResolution { get; init; } = 0.01;

    private readonly ArmKinematics[] kinematics;
    private readonly double[][] commanded;
    private readonly double[] gripper;
    private readonly StepCallback? onStep;

    public MotionExecutor(MultiAgentEnv env, Observation initial, StepCallback? onStep = null)
    {
        Env = env;
        Observation = initial;
        this.onStep = onStep;
        kinematics = Enumerable.Range(0, env.AgentCount).Select(i => new ArmKinematics(env.Scene, i)).ToArray();
        commanded = Enumerable.Range(0, env.AgentCount).Select(i => env.ArmQpos(i).Take(PandaSpec.ArmDof).ToArray()).ToArray();
        gripper = Enumerable.Range(0, env.AgentCount).Select(i => env.ArmQpos(i)[7] + env.ArmQpos(i)[8] > 0.04 ? 1.0 : -1.0).ToArray();
    }

    public double GripperCommand(int agent) => gripper[agent];
    public double[] CommandedJoints(int agent) => (double[])commanded[agent].Clone();
    public Pose CommandedTcp(int agent) => kinematics[agent].Forward(commanded[agent]);

    /// <summary>Solves IK for a pose from the arm's commanded joints; throws <see cref="ExpertAbortedException"/> when unreachable.</summary>
    public double[] SolveIk(int agent, Pose target) =>
        kinematics[agent].Inverse(target, commanded[agent])
        ?? throw new ExpertAbortedException($"agent {agent}: no IK solution for TCP pose {target}");

    /// <summary>Moves the listed arms together along straight TCP lines to their targets; they start and arrive together.</summary>
    public void MoveTo(params (int Agent, Pose Target)[] goals)
    {
        var paths = goals.Select(g => (g.Agent, Path: CartesianPath(g.Agent, g.Target))).ToList();
        double duration = paths.Max(p => TimeParameterization.Duration(p.Path, VelocityLimit, AccelerationLimit));
        var samples = paths.Select(p => (p.Agent, Q: TimeParameterization.Sample(p.Path, Env.Task.Physics.ControlTimestep,
            VelocityLimit, AccelerationLimit, duration))).ToList();
        int n = samples.Max(s => s.Q.Count);
        for (int k = 0; k < n; k++)
        {
            foreach (var (agent, q) in samples)
                if (q.Count > 0) commanded[agent] = q[System.Math.Min(k, q.Count - 1)];
            Step();
        }
    }

    /// <summary>Joint waypoints for a straight line (position) with slerped orientation from the commanded TCP pose to the target.</summary>
    public List<double[]> CartesianPath(int agent, Pose target)
    {
        var start = CommandedTcp(agent);
        double dist = (target.P - start.P).Length;
        double angle = (target.Q * start.Q.Conjugate).ToRotationVector().Length;
        int n = System.Math.Max(1, (int)System.Math.Ceiling(System.Math.Max(dist / PathResolution, angle / 0.05)));
        var path = new List<double[]> { commanded[agent] };
        var seed = commanded[agent];
        for (int i = 1; i <= n; i++)
        {
            double t = (double)i / n;
            var pose = new Pose(start.P + (target.P - start.P) * t, Quat.Slerp(start.Q, target.Q, t));
            var q = kinematics[agent].Inverse(pose, seed)
                ?? throw new ExpertAbortedException($"agent {agent}: no IK solution at {t:P0} of the path to {target}");
            for (int j = 0; j < q.Length; j++)
                if (System.Math.Abs(q[j] - seed[j]) > 0.35)
                    throw new ExpertAbortedException($"agent {agent}: IK jumped {q[j] - seed[j]:0.00} rad on joint {j + 1} along the path to {target}");
            path.Add(q);
            seed = q;
        }
        return path;
    }

    /// <summary>Ramps the gripper command of the listed arms by 0.1 per step to −1 (close) or +1 (open): 20 steps, like upstream.</summary>
    public void Gripper(bool close, params int[] agents)
    {
        double goal = close ? -1 : 1;
        for (int k = 0; k < 20; k++)
        {
            foreach (int a in agents) gripper[a] = System.Math.Clamp(gripper[a] + (close ? -0.1 : 0.1), -1, 1);
            Step();
        }
        foreach (int a in agents) gripper[a] = goal;
    }

    public void Hold(int steps)
    {
        for (int k = 0; k < steps; k++) Step();
    }

    private void Step()
    {
        var actions = new double[Env.AgentCount][];
        for (int i = 0; i < actions.Length; i++)
        {
            actions[i] = new double[PandaSpec.ActionDim];
            Array.Copy(commanded[i], actions[i], PandaSpec.ArmDof);
            actions[i][7] = gripper[i];
        }
        var before = Observation;
        var result = Env.Step(actions);
        Steps++;
        Last = result;
        Observation = result.Observation;
        onStep?.Invoke(before, actions, result);
        if (result.Info.Unstable) throw new ExpertAbortedException(result.Info.FailureReason ?? "simulation unstable");
        if (result.Truncated) throw new ExpertAbortedException($"reached max_episode_steps ({Env.Task.MaxEpisodeSteps})");
    }

    public void Dispose()
    {
        foreach (var k in kinematics) k.Dispose();
    }
}
