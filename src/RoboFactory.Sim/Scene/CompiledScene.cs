using RoboFactory.Sim.Config;
using RoboFactory.Sim.Interop;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Sim.Scene;

/// <summary>Addresses of one arm inside the compiled model.</summary>
public sealed record ArmIndex(
    int[] QposAddress,      // 9: 7 arm joints + 2 fingers
    int[] DofAddress,       // 9
    int[] ActuatorIndex,    // 9
    int BaseBody,
    int HandBody,
    int TcpSite,
    int[] BodyIds);         // link0..link7, hand, fingers (for contact queries)

/// <summary>How an object moves: freely (a free joint, 7 qpos), on one joint of an articulated object (1 qpos),
/// or kinematically (a mocap body, no qpos).</summary>
public enum ObjectMotion { Free, Jointed, Mocap }

/// <summary>Addresses of one object inside the compiled model.</summary>
public sealed record ObjectIndex(string Name, int Body, int QposAddress, int DofAddress, ObjectMotion Motion, int MocapIndex);

/// <summary>A task compiled to a MuJoCo model, with every id the environment needs looked up once.</summary>
public sealed class CompiledScene : IDisposable
{
    public TaskConfig Task { get; }
    public MjModel Model { get; }
    public string Xml { get; }
    public IReadOnlyList<ArmIndex> Arms { get; }
    public IReadOnlyList<ObjectIndex> Objects { get; }

    public CompiledScene(TaskConfig task)
    {
        Task = task;
        Xml = SceneBuilder.BuildXml(task);
        Model = MjModel.FromXmlString(Xml);
        var m = Model;
        var arms = new List<ArmIndex>();
        for (int i = 0; i < task.Agents.Count; i++)
        {
            string p = SceneBuilder.AgentPrefix(i);
            var joints = Enumerable.Range(0, PandaSpec.ArmDof).Select(j => m.Id(MjObject.Joint, PandaMjcf.JointName(p, j)))
                .Concat(Enumerable.Range(0, 2).Select(f => m.Id(MjObject.Joint, PandaMjcf.FingerJointName(p, f)))).ToArray();
            var acts = Enumerable.Range(0, PandaSpec.ArmDof).Select(j => m.Id(MjObject.Actuator, PandaMjcf.ActuatorName(p, j)))
                .Concat(Enumerable.Range(0, 2).Select(f => m.Id(MjObject.Actuator, PandaMjcf.FingerActuatorName(p, f)))).ToArray();
            int baseBody = m.Id(MjObject.Body, PandaMjcf.LinkName(p, 0));
            var bodies = Enumerable.Range(0, m.nbody).Where(b => IsDescendant(m, b, baseBody)).ToArray();
            arms.Add(new ArmIndex(joints.Select(m.JointQposAddress).ToArray(), joints.Select(m.JointDofAddress).ToArray(), acts,
                baseBody, m.Id(MjObject.Body, PandaMjcf.HandName(p)), m.Id(MjObject.Site, PandaMjcf.TcpSiteName(p)), bodies));
        }
        Arms = arms;

        int mocap = 0;
        Objects = task.Objects.Select(o =>
        {
            int body = m.Id(MjObject.Body, o.Name);
            if (o.Kind == BodyKind.Dynamic)
            {
                int j = m.Id(MjObject.Joint, SceneBuilder.ObjectJointName(o.Name));
                return new ObjectIndex(o.Name, body, m.JointQposAddress(j), m.JointDofAddress(j),
                    o.Joint is null ? ObjectMotion.Free : ObjectMotion.Jointed, -1);
            }
            // mocap ids follow body order: objects are added last, and a jointed part is never a mocap body
            return new ObjectIndex(o.Name, body, -1, -1, ObjectMotion.Mocap, mocap++);
        }).ToList();
    }

    private static bool IsDescendant(MjModel m, int body, int root)
    {
        for (int b = body; b > 0; b = m.BodyParent(b))
            if (b == root) return true;
        return false;
    }

    public ObjectIndex Object(string name) =>
        Objects.FirstOrDefault(o => o.Name == name) ?? throw new KeyNotFoundException($"task {Task.Name} has no object '{name}'");

    public void Dispose() => Model.Dispose();
}
