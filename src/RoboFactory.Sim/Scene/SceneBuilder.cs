using System.Xml.Linq;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;
using static RoboFactory.Sim.Scene.Mjcf;

namespace RoboFactory.Sim.Scene;

/// <summary>Turns a <see cref="TaskConfig"/> into one MJCF document: table, lights, arms, objects, cameras.</summary>
public static class SceneBuilder
{
    /// <summary>Table and objects: contype 1, and they accept contacts from everything (conaffinity 1|2).</summary>
    public const int WorldContype = 1, WorldConaffinity = 3;

    public static string AgentPrefix(int agent) => $"panda{agent}_";
    public static string ObjectJointName(string obj) => $"{obj}_joint";

    public static string BuildXml(TaskConfig task) => Build(task).ToString();

    public static XDocument Build(TaskConfig task)
    {
        var cams = task.Cameras.Select(c => (c.Width, c.Height))
            .Append((task.WristCamera.Width, task.WristCamera.Height)).ToList();
        int offW = cams.Max(c => c.Width), offH = cams.Max(c => c.Height);

        var world = El("worldbody",
            El("light", A("name", "sun"), A("directional", "true"), A("pos", "0 0 3"), A("dir", "0.2 0.3 -1"),
                A("diffuse", "0.6 0.6 0.6"), A("specular", "0.1 0.1 0.1"), A("castshadow", "false")),
            El("light", A("name", "fill"), A("directional", "true"), A("pos", "0 0 3"), A("dir", "-0.3 -0.2 -1"),
                A("diffuse", "0.3 0.3 0.3"), A("specular", "0 0 0"), A("castshadow", "false")),
            El("geom", A("name", "floor"), A("type", "plane"), A("pos", Nums(0, 0, 2 * task.Table.Center.Z)),
                A("size", "6 6 0.1"), A("rgba", "0.55 0.55 0.58 1"), A("contype", WorldContype), A("conaffinity", WorldConaffinity)),
            El("geom", A("name", "table"), A("type", "box"), A("pos", Vec(task.Table.Center)), A("size", Vec(task.Table.HalfSize)),
                A("rgba", "0.78 0.64 0.47 1"), A("contype", WorldContype), A("conaffinity", WorldConaffinity), A("friction", "0.5 0.005 0.0001")));

        foreach (var cam in task.Cameras)
            world.Add(Camera(cam.Name, cam.Pose, cam.FovyDegrees));

        var actuators = El("actuator");
        for (int i = 0; i < task.Agents.Count; i++)
        {
            string prefix = AgentPrefix(i);
            var wrist = Camera(TaskConfig.WristCameraName(i), task.WristCamera.Mount, task.WristCamera.FovyDegrees);
            world.Add(PandaMjcf.Body(prefix, task.Agents[i].Base, wrist));
            foreach (var a in PandaMjcf.Actuators(prefix)) actuators.Add(a);
        }

        // a part on a joint is nested in its parent's body (listed before it, so already built)
        var bodies = new Dictionary<string, XElement>();
        foreach (var obj in task.Objects)
        {
            var body = ObjectBody(obj);
            bodies[obj.Name] = body;
            if (obj.Joint is { } j) bodies[j.Parent].Add(body);
            else world.Add(body);
        }

        double near = task.Cameras.Select(c => c.Near).Append(task.WristCamera.Near).Min();
        double far = task.Cameras.Select(c => c.Far).Append(task.WristCamera.Far).Max();
        return new XDocument(El("mujoco", A("model", task.Name),
            El("compiler", A("angle", "radian"), A("inertiafromgeom", "auto")),
            El("option", A("timestep", task.Physics.Timestep), A("integrator", "implicit"), A("cone", "elliptic"),
                A("gravity", "0 0 -9.81"), A("noslip_iterations", task.Physics.NoslipIterations)),
            El("size", A("njmax", 3000), A("nconmax", 600)),
            // stiffer contacts than MuJoCo's default (0.02 s) so a 30 N grip squeezes a box by millimetres, not centimetres
            El("default", El("geom", A("solref", Nums(2 * task.Physics.Timestep, 1)), A("solimp", "0.95 0.99 0.001"))),
            El("visual",
                El("global", A("offwidth", offW), A("offheight", offH)),
                // near/far as fractions of the model extent (MuJoCo's convention); extent is fixed below
                El("map", A("znear", near / 2.0), A("zfar", far / 2.0)),
                El("quality", A("shadowsize", 0), A("offsamples", 0)),
                El("headlight", A("ambient", "0.35 0.35 0.35"), A("diffuse", "0.35 0.35 0.35"), A("specular", "0 0 0"))),
            El("statistic", A("extent", 2.0), A("center", "0 0 0")),
            world, actuators));
    }

    private static XElement Camera(string name, Pose pose, double fovyDegrees) =>
        El("camera", A("name", name), A("pos", Vec(pose.P)), A("quat", Quat(pose.Q)), A("fovy", fovyDegrees));

    private static XElement ObjectBody(ObjectConfig obj)
    {
        var body = El("body", A("name", obj.Name), A("pos", Vec(obj.Pose.P)), A("quat", Quat(obj.Pose.Q)));
        if (obj.Kind == BodyKind.Dynamic)
        {
            if (obj.Joint is { } j)
                body.Add(El("joint", A("name", ObjectJointName(obj.Name)), A("type", j.Type.ToString().ToLowerInvariant()),
                    A("axis", Vec(j.Axis)), A("limited", "true"), A("range", Nums(j.RangeLo, j.RangeHi)), A("damping", j.Damping)));
            else body.Add(El("freejoint", A("name", ObjectJointName(obj.Name))));
            var (center, inertia) = BoxInertia(obj);
            body.Add(El("inertial", A("pos", Vec(center)), A("mass", obj.Mass), A("diaginertia", Vec(inertia))));
        }
        else
        {
            // a mocap body is moved, not simulated, so its mass has no effect; MuJoCo's compiler still wants one
            // when every geom is massless (visual-only markers such as goal regions)
            body.Add(A("mocap", "true"), El("inertial", A("pos", "0 0 0"), A("mass", 1), A("diaginertia", "0.001 0.001 0.001")));
        }

        int g = 0;
        foreach (var geom in obj.Geoms)
        {
            string type = geom.Type.ToString().ToLowerInvariant();
            body.Add(El("geom", A("name", $"{obj.Name}_geom{g++}"), A("type", type), A("size", Nums(geom.Size)),
                A("pos", Vec(geom.Pos)), A("quat", Quat(geom.Quat)), A("rgba", Nums(geom.Rgba)),
                A("contype", geom.Collide ? WorldContype : 0), A("conaffinity", geom.Collide ? WorldConaffinity : 0),
                A("friction", Nums(obj.Friction, 0.005, 0.0001)), A("condim", 4), A("mass", 0)));
        }
        return body;
    }

    /// <summary>Mass centre and diagonal inertia of the object's bounding box: a plausible stand-in for its unknown mesh.</summary>
    private static (Vec3 Center, Vec3 Inertia) BoxInertia(ObjectConfig obj)
    {
        var lo = new Vec3(double.MaxValue, double.MaxValue, double.MaxValue);
        var hi = -lo;
        foreach (var g in obj.Geoms)
        {
            var half = g.Type switch
            {
                GeomType.Box => new Vec3(g.Size[0], g.Size[1], g.Size[2]),
                GeomType.Sphere => new Vec3(g.Size[0], g.Size[0], g.Size[0]),
                GeomType.Capsule => new Vec3(g.Size[0], g.Size[0], g.Size[1] + g.Size[0]),
                _ => new Vec3(g.Size[0], g.Size[0], g.Size[1]),
            };
            // conservative: rotate the half-extent box and take its axis-aligned bound
            var m = g.Quat.ToMatrix();
            var ext = new Vec3(
                System.Math.Abs(m[0]) * half.X + System.Math.Abs(m[1]) * half.Y + System.Math.Abs(m[2]) * half.Z,
                System.Math.Abs(m[3]) * half.X + System.Math.Abs(m[4]) * half.Y + System.Math.Abs(m[5]) * half.Z,
                System.Math.Abs(m[6]) * half.X + System.Math.Abs(m[7]) * half.Y + System.Math.Abs(m[8]) * half.Z);
            var a = g.Pos - ext; var b = g.Pos + ext;
            lo = new Vec3(System.Math.Min(lo.X, a.X), System.Math.Min(lo.Y, a.Y), System.Math.Min(lo.Z, a.Z));
            hi = new Vec3(System.Math.Max(hi.X, b.X), System.Math.Max(hi.Y, b.Y), System.Math.Max(hi.Z, b.Z));
        }
        var d = hi - lo;
        double k = obj.Mass / 12.0;
        return ((lo + hi) / 2, new Vec3(k * (d.Y * d.Y + d.Z * d.Z), k * (d.X * d.X + d.Z * d.Z), k * (d.X * d.X + d.Y * d.Y)));
    }
}
