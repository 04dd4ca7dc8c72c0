using RoboFactory.Core.Imaging;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Interop;
using RoboFactory.Sim.Math;
using RoboFactory.Core.Rng;
using RoboFactory.Sim.Robots;
using RoboFactory.Sim.Scene;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Sim.Env;

/// <param name="RenderObservations">render each agent's head, global and wrist views into observations</param>
public sealed record EnvOptions(bool RenderObservations = true);

/// <summary>
/// Multi-agent table environment with a Gymnasium-like API. Each agent is a Panda under pd_joint_pos control
/// at the task's control rate: an action is 7 absolute joint targets (rad) + a gripper command in [−1, 1].
/// Deterministic: the same seed and actions give bit-identical states and images.
/// </summary>
public sealed class MultiAgentEnv : IDisposable
{
    public TaskConfig Task { get; }
    public TaskLogic Logic { get; }
    public CompiledScene Scene { get; }
    public MjData Data { get; }
    public EnvOptions Options { get; }
    public int AgentCount => Task.Agents.Count;
    public int ElapsedSteps { get; private set; }
    public int Seed { get; private set; }

    private MjRenderer? renderer;
    private readonly int[] headCam, wristCam;
    private readonly int globalCam;
    private readonly double[] jacp, jacr;

    public MultiAgentEnv(TaskConfig task, TaskLogic logic, EnvOptions? options = null)
    {
        Task = task;
        Logic = logic;
        Options = options ?? new EnvOptions();
        Scene = new CompiledScene(task);
        Data = new MjData(Scene.Model);
        var m = Scene.Model;
        headCam = Enumerable.Range(0, AgentCount).Select(i => m.Id(MjObject.Camera, TaskConfig.HeadCameraName(i))).ToArray();
        wristCam = Enumerable.Range(0, AgentCount).Select(i => m.Id(MjObject.Camera, TaskConfig.WristCameraName(i))).ToArray();
        globalCam = m.Id(MjObject.Camera, TaskConfig.GlobalCameraName);
        jacp = new double[3 * m.nv];
        jacr = new double[3 * m.nv];
    }

    private MjRenderer Renderer
    {
        get
        {
            if (renderer is not null) return renderer;
            int w = Task.Cameras.Select(c => c.Width).Append(Task.WristCamera.Width).Max();
            int h = Task.Cameras.Select(c => c.Height).Append(Task.WristCamera.Height).Max();
            return renderer = new MjRenderer(Scene.Model, w, h);
        }
    }

    /// <summary>Starts an episode: initial joints from the config, objects at p0 + s ⊙ U[0,1)³ drawn from <paramref name="seed"/>.</summary>
    public Observation Reset(int seed)
    {
        Seed = seed;
        ElapsedSteps = 0;
        Data.Reset();
        var rng = new EpisodeRng(seed);
        var qpos = Data.Qpos;
        var ctrl = Data.Ctrl;
        for (int i = 0; i < AgentCount; i++)
        {
            var arm = Scene.Arms[i];
            var init = Task.Agents[i].InitQpos;
            for (int j = 0; j < PandaSpec.QposDim; j++) qpos[arm.QposAddress[j]] = init[j];
            for (int j = 0; j < PandaSpec.ArmDof; j++) ctrl[arm.ActuatorIndex[j]] = init[j];
            // fingers hold their initial opening: the gripper command that maps to it
            ctrl[arm.ActuatorIndex[7]] = init[7];
            ctrl[arm.ActuatorIndex[8]] = init[8];
        }
        var drawn = new Dictionary<string, Vec3>();
        for (int k = 0; k < Task.Objects.Count; k++)
        {
            var obj = Task.Objects[k];
            var idx = Scene.Objects[k];
            var u = new Vec3(rng.NextDouble(), rng.NextDouble(), rng.NextDouble());
            var p = obj.Pose.P + new Vec3(obj.RandomizeP.X * u.X, obj.RandomizeP.Y * u.Y, obj.RandomizeP.Z * u.Z);
            // the draw above still happens, so attaching an object does not shift the random stream of the others
            if (obj.AttachXy is { } at) p = new Vec3(drawn[at.Object].X + at.OffsetX, drawn[at.Object].Y + at.OffsetY, p.Z);
            drawn[obj.Name] = p;
            var q = obj.RandomYaw ? Quat.FromYaw(rng.NextDouble() * 2 * System.Math.PI) * obj.Pose.Q : obj.Pose.Q;
            if (idx.Motion == ObjectMotion.Jointed) qpos[idx.QposAddress] = 0; // rests where the YAML places it
            else if (idx.Motion == ObjectMotion.Free)
            {
                var a = idx.QposAddress;
                qpos[a] = p.X; qpos[a + 1] = p.Y; qpos[a + 2] = p.Z;
                qpos[a + 3] = q.W; qpos[a + 4] = q.X; qpos[a + 5] = q.Y; qpos[a + 6] = q.Z;
            }
            else Data.SetMocapPose(idx.MocapIndex, new Pose(p, q));
        }
        Data.Forward();
        Data.TakeWarnings();
        return Observe();
    }

    /// <summary>Applies one 8-D action per agent for one control step (Physics.Substeps physics steps).</summary>
    public StepResult Step(IReadOnlyList<double[]> actions)
    {
        if (actions.Count != AgentCount)
            throw new ArgumentException($"{Task.Name} has {AgentCount} agents, got {actions.Count} actions");
        var ctrl = Data.Ctrl;
        for (int i = 0; i < AgentCount; i++)
        {
            var a = actions[i];
            if (a.Length != PandaSpec.ActionDim)
                throw new ArgumentException($"agent {i}: action must have {PandaSpec.ActionDim} values (7 joint targets + gripper), got {a.Length}");
            for (int j = 0; j < a.Length; j++)
                if (!double.IsFinite(a[j])) throw new ArgumentException($"agent {i}: action[{j}] is {a[j]}; actions must be finite");
            var arm = Scene.Arms[i];
            for (int j = 0; j < PandaSpec.ArmDof; j++) ctrl[arm.ActuatorIndex[j]] = a[j];
            double finger = PandaSpec.FingerTarget(a[7]);
            ctrl[arm.ActuatorIndex[7]] = finger;
            ctrl[arm.ActuatorIndex[8]] = finger;
        }
        bool unstable = false;
        var warnings = new List<string>();
        for (int s = 0; s < Task.Physics.Substeps && !unstable; s++)
        {
            Data.Step1();
            CompensateGravity();
            Data.Step2();
            if (Data.Unstable) unstable = true;
        }
        warnings.AddRange(Data.TakeWarnings());
        ElapsedSteps++;
        // after an instability MuJoCo has reset the state, so there is nothing to evaluate
        var evaluation = unstable ? null : Logic.Evaluate(this);
        bool success = evaluation?.Success ?? false;
        string? reason = unstable ? $"simulation unstable at step {ElapsedSteps}: {string.Join("; ", warnings)}" : null;
        bool truncated = unstable || ElapsedSteps >= Task.MaxEpisodeSteps;
        return new StepResult(Observe(), success, truncated, new StepInfo(ElapsedSteps, success, unstable, reason, warnings, evaluation));
    }

    /// <summary>
    /// The arms' own weight and Coriolis forces are cancelled, as ManiSkill does for its robots
    /// (balance_passive_force); loads the arms carry are not.
    /// </summary>
    private void CompensateGravity()
    {
        var bias = Data.QfrcBias;
        var applied = Data.QfrcApplied;
        foreach (var arm in Scene.Arms)
            foreach (int dof in arm.DofAddress) applied[dof] = bias[dof];
    }

    public Observation Observe()
    {
        Image8?[] head = new Image8?[AgentCount], wrist = new Image8?[AgentCount];
        Image8? global = null;
        if (Options.RenderObservations)
        {
            var requests = new List<MjRenderer.Request>();
            var names = new List<string>();
            void Add(int cam, string name, int w, int h) { requests.Add(new MjRenderer.Request(cam, w, h)); names.Add(name); }
            for (int i = 0; i < AgentCount; i++)
            {
                var hc = Task.Camera(TaskConfig.HeadCameraName(i));
                Add(headCam[i], hc.Name, hc.Width, hc.Height);
                Add(wristCam[i], TaskConfig.WristCameraName(i), Task.WristCamera.Width, Task.WristCamera.Height);
            }
            var gc = Task.Camera(TaskConfig.GlobalCameraName);
            Add(globalCam, gc.Name, gc.Width, gc.Height);
            Renderer.Render(Data, requests);
            var images = requests.Select((r, k) => Image8.Rgb(r.Width, r.Height, r.Rgb)).ToArray();
            for (int i = 0; i < AgentCount; i++) { head[i] = images[2 * i]; wrist[i] = images[2 * i + 1]; }
            global = images[^1];
        }
        var agents = new AgentObservation[AgentCount];
        for (int i = 0; i < AgentCount; i++)
            agents[i] = new AgentObservation(ArmQpos(i), ArmQvel(i), TcpPose(i), head[i], global, wrist[i]);
        return new Observation(agents, ElapsedSteps);
    }

    /// <summary>Renders any named camera of the scene (e.g. "render_camera" for videos) at its configured size.</summary>
    public Image8 RenderCamera(string name)
    {
        int w, h;
        if (name.StartsWith("wrist_camera_agent", StringComparison.Ordinal)) (w, h) = (Task.WristCamera.Width, Task.WristCamera.Height);
        else { var c = Task.Camera(name); (w, h) = (c.Width, c.Height); }
        int id = Scene.Model.Id(MjObject.Camera, name);
        return Image8.Rgb(w, h, Renderer.Render(Data, id, w, h));
    }

    public double[] ArmQpos(int agent)
    {
        var a = Scene.Arms[agent].QposAddress;
        var q = Data.Qpos;
        var result = new double[a.Length];
        for (int k = 0; k < a.Length; k++) result[k] = q[a[k]];
        return result;
    }

    public double[] ArmQvel(int agent)
    {
        var a = Scene.Arms[agent].DofAddress;
        var v = Data.Qvel;
        var result = new double[a.Length];
        for (int k = 0; k < a.Length; k++) result[k] = v[a[k]];
        return result;
    }

    public Pose TcpPose(int agent) => Data.SitePose(Scene.Arms[agent].TcpSite);
    public Pose BasePose(int agent) => Data.BodyPose(Scene.Arms[agent].BaseBody);
    public Pose ObjectPose(string name) => Data.BodyPose(Scene.Object(name).Body);

    /// <summary>
    /// Translational and rotational Jacobians (3×9 each, row-major, over this arm's 7 joints + 2 fingers) of the TCP site,
    /// at the current state.
    /// </summary>
    public (double[] Jp, double[] Jr) TcpJacobian(int agent)
    {
        var arm = Scene.Arms[agent];
        Data.SiteJacobian(arm.TcpSite, jacp, jacr);
        int nv = Scene.Model.nv, n = arm.DofAddress.Length;
        var jp = new double[3 * n];
        var jr = new double[3 * n];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < n; c++)
            {
                jp[r * n + c] = jacp[r * nv + arm.DofAddress[c]];
                jr[r * n + c] = jacr[r * nv + arm.DofAddress[c]];
            }
        return (jp, jr);
    }

    /// <summary>ManiSkill's `is_grasping`: each finger of the agent's gripper presses the object with a net contact force of
    /// at least <see cref="GraspMinForce"/> N within <see cref="GraspMaxAngleDegrees"/>° of the finger's closing
    /// direction (a touch, or a finger resting against the object from the outside, is no grasp).</summary>
    public bool IsGrasping(int agent, string objectName)
    {
        int body = Scene.Object(objectName).Body;
        string p = SceneBuilder.AgentPrefix(agent);
        int[] fingers = [Scene.Model.Id(MjObject.Body, $"{p}finger1"), Scene.Model.Id(MjObject.Body, $"{p}finger2")];
        // finger 1 opens along the hand's +y and finger 2 along −y (PandaMjcf), so they close along −y and +y
        var handY = Data.BodyQuat(fingers[0]).Rotate(Vec3.UnitY);
        Vec3[] closing = [-handY, handY];
        Span<Vec3> push = [Vec3.Zero, Vec3.Zero]; // net force each finger applies to the object
        for (int c = 0; c < Data.ContactCount; c++)
        {
            var con = Data.Contact(c);
            int b1 = Scene.Model.GeomBody(con.Geom1), b2 = Scene.Model.GeomBody(con.Geom2);
            for (int f = 0; f < 2; f++)
            {
                if (b1 == fingers[f] && b2 == body) push[f] += Data.ContactForceOnGeom2(c);
                else if (b2 == fingers[f] && b1 == body) push[f] -= Data.ContactForceOnGeom2(c);
            }
        }
        for (int f = 0; f < 2; f++)
        {
            double force = push[f].Length;
            if (force < GraspMinForce || push[f].Dot(closing[f]) < force * System.Math.Cos(GraspMaxAngleDegrees * System.Math.PI / 180)) return false;
        }
        return true;
    }

    /// <summary>ManiSkill's `is_grasping` defaults (mani_skill/agents/robots/panda/panda.py): each finger presses the
    /// object with at least this force …</summary>
    public const double GraspMinForce = 0.5;
    /// <summary>… within this angle of its closing direction.</summary>
    public const double GraspMaxAngleDegrees = 85;

    /// <summary>64-bit hash of time, qpos, qvel and ctrl: equal hashes ⇒ (almost surely) identical states.</summary>
    public ulong StateHash()
    {
        var h = new XxHash64();
        Span<double> t = [Data.Time];
        h.Append(MemoryMarshal.AsBytes(t));
        h.Append(MemoryMarshal.AsBytes<double>(Data.Qpos));
        h.Append(MemoryMarshal.AsBytes<double>(Data.Qvel));
        h.Append(MemoryMarshal.AsBytes<double>(Data.Ctrl));
        return h.GetCurrentHashAsUInt64();
    }

    public void Dispose()
    {
        renderer?.Dispose();
        Data.Dispose();
        Scene.Dispose();
    }
}

/// <summary>
/// Per-episode random stream (SplitMix64): fixed algorithm, so layouts drawn from a seed never change between
/// .NET versions or machines (upstream drew them from an unseeded global RNG).
/// </summary>
public sealed class EpisodeRng(int seed)
{
    private readonly SplitMix64 stream = new(0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed * 0xBF58476D1CE4E5B9UL);

    public ulong NextUInt64() => stream.Next();

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
