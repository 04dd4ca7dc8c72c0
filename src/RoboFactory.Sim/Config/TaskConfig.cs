using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Config;

/// <summary>One task's scene, as read from configs/table/*.yaml. Everything that is data lives here.</summary>
public sealed record TaskConfig(
    string Name,
    string EnvId,
    string Instruction,
    int MaxEpisodeSteps,
    PhysicsConfig Physics,
    TableConfig Table,
    IReadOnlyList<AgentConfig> Agents,
    IReadOnlyList<ObjectConfig> Objects,
    IReadOnlyList<CameraConfig> Cameras,
    WristCameraConfig WristCamera,
    SuccessThresholds Success,
    string SourceFile)
{
    public ObjectConfig Object(string name) =>
        Objects.FirstOrDefault(o => o.Name == name)
        ?? throw new ConfigException($"{SourceFile}: objects: task {Name} needs an object named '{name}'");

    public CameraConfig Camera(string name) =>
        Cameras.FirstOrDefault(c => c.Name == name)
        ?? throw new ConfigException($"{SourceFile}: cameras: task {Name} needs a camera named '{name}'");

    public static string HeadCameraName(int agent) => $"head_camera_agent{agent}";
    public static string WristCameraName(int agent) => $"wrist_camera_agent{agent}";
    public const string GlobalCameraName = "head_camera_global";
    public const string RenderCameraName = "render_camera";
}

/// <param name="ControlFreq">policy/controller rate (Hz); upstream uses 20</param>
/// <param name="Substeps">physics steps per control step; timestep = 1 / (ControlFreq · Substeps)</param>
/// <param name="NoslipIterations">MuJoCo's noslip solver iterations (0: off): removes the tangential creep of soft
/// contacts, so a squeezed object does not slide out of a grasp</param>
public sealed record PhysicsConfig(int ControlFreq, int Substeps, int NoslipIterations = 0)
{
    public double ControlTimestep => 1.0 / ControlFreq;
    public double Timestep => 1.0 / (ControlFreq * Substeps);
}

/// <summary>Table as a box whose top face is at z = 0.</summary>
public sealed record TableConfig(Vec3 Center, Vec3 HalfSize);

/// <summary>A Panda arm: base pose (yaw only, like upstream) and initial qpos (7 arm + 2 fingers).</summary>
public sealed record AgentConfig(string Name, Pose Base, double[] InitQpos);

public enum BodyKind { Dynamic, Kinematic }

public enum GeomType { Box, Cylinder, Capsule, Sphere }

/// <param name="Size">MuJoCo size: box half-sizes (3), cylinder/capsule (radius, half-length), sphere (radius)</param>
/// <param name="Collide">false for visual-only geoms (e.g. goal markers)</param>
public sealed record GeomConfig(GeomType Type, double[] Size, Vec3 Pos, Quat Quat, double[] Rgba, bool Collide);

/// <summary>
/// An object built from primitives. Initial pose p = p0 + s ⊙ U[0,1)³ from the episode seed (one-sided, as upstream),
/// plus an optional uniformly random yaw.
/// </summary>
/// <param name="GraspPoints">annotated grasp/contact points in the object's frame (the experts use them)</param>
/// <param name="AttachXy">optional: after drawing, the object's xy is replaced by another (earlier) object's xy plus an offset</param>
public sealed record ObjectConfig(
    string Name,
    BodyKind Kind,
    Pose Pose,
    Vec3 RandomizeP,
    bool RandomYaw,
    double Mass,
    double Friction,
    IReadOnlyList<GeomConfig> Geoms,
    IReadOnlyList<Vec3> GraspPoints,
    XyAttachment? AttachXy = null,
    ObjectJoint? Joint = null);

public enum ObjectJointType { Slide, Hinge }

/// <summary>
/// A part of an articulated object (YAML `joint: {parent: NAME, type: slide|hinge, axis: [x, y, z], range: [lo, hi]}`),
/// as upstream's URDF objects (PlaceFood's pot and its lid): the body hangs from an earlier object on one joint
/// instead of moving freely; its <see cref="ObjectConfig.Pose"/> is in the parent's frame and the joint starts at 0.
/// </summary>
/// <param name="Range">joint limits (m for slide, rad for hinge); 0 must lie inside</param>
/// <param name="Damping">joint damping (N·s/m or N·m·s/rad)</param>
public sealed record ObjectJoint(string Parent, ObjectJointType Type, Vec3 Axis, double RangeLo, double RangeHi, double Damping);

/// <summary>
/// Places an object relative to another one drawn before it (YAML `attach_xy_to: {object: NAME, offset: [dx, dy]}`):
/// upstream snaps some objects after initialisation (a camera onto its pedestal, the meat in front of the pot).
/// Only x and y are replaced, in world axes; z and the orientation keep their own draw.
/// </summary>
public sealed record XyAttachment(string Object, double OffsetX, double OffsetY);

/// <summary>A fixed camera. <see cref="Pose"/> is in MuJoCo's camera convention (looks along −z, +y up).</summary>
public sealed record CameraConfig(string Name, Pose Pose, int Width, int Height, double FovyDegrees, double Near, double Far);

/// <summary>Per-agent wrist camera mounted on the hand, pose in MuJoCo's camera convention relative to the hand.</summary>
public sealed record WristCameraConfig(Pose Mount, int Width, int Height, double FovyDegrees, double Near, double Far);

/// <summary>Named success thresholds of a task (e.g. lift_height). Unknown names are an error naming the file.</summary>
public sealed class SuccessThresholds(IReadOnlyDictionary<string, double> values, string file)
{
    public IReadOnlyDictionary<string, double> Values { get; } = values;

    public double this[string name] => Values.TryGetValue(name, out double v)
        ? v
        : throw new ConfigException($"{file}: success.{name}: missing required threshold (a number)");
}
