using RoboFactory.Core.Naming;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Sim.Config;

/// <summary>Reads a task YAML into a <see cref="TaskConfig"/>; every error names the file, the key and what was expected.</summary>
public static class TaskConfigLoader
{
    public static TaskConfig Load(string file) => Read(ConfigNode.Load(file));

    public static TaskConfig Parse(string yaml, string file = "<string>") => Read(ConfigNode.Parse(yaml, file));

    private static TaskConfig Read(ConfigNode root)
    {
        root.AllowOnly("name", "env_id", "instruction", "max_episode_steps", "physics", "table", "agents", "objects",
            "cameras", "wrist_camera", "success");
        string name = root["name"].String();
        // env_id is spelled out in the YAML for readers; its one source is the name
        string envId = root["env_id"].String();
        if (envId != TaskNames.EnvId(name))
            throw root["env_id"].Invalid($"expected '{TaskNames.EnvId(name)}' (the name '{name}' with the {TaskNames.EnvIdSuffix} suffix), got '{envId}'");
        var physicsNode = root["physics"].AllowOnly("control_freq", "substeps", "noslip_iterations");
        var physics = new PhysicsConfig(physicsNode["control_freq"].PositiveInt(), physicsNode["substeps"].PositiveInt(),
            physicsNode.Optional("noslip_iterations")?.PositiveInt() ?? 0);

        var table = new TableConfig(new Vec3(-0.12, 0, -0.46), new Vec3(1.2, 1.5, 0.46));
        if (root.Optional("table") is { } t)
        {
            t.AllowOnly("center_xy", "half_size");
            var c = t["center_xy"].Doubles(2);
            var h = PositiveVector(t["half_size"]);
            table = new TableConfig(new Vec3(c[0], c[1], -h.Z), h); // top face at z = 0
        }

        var agents = root["agents"].Items().Select((a, i) => ReadAgent(a, i)).ToList();
        if (agents.Count == 0) throw root["agents"].Invalid("at least one agent is required");

        var objects = root["objects"].Items().Select(ReadObject).ToList();
        Unique(objects.Select(o => o.Name), root["objects"], "object");
        // attach_xy_to and joint.parent refer to an object placed before this one
        for (int k = 0; k < objects.Count; k++)
            foreach (var (key, other) in new[] { ("attach_xy_to", objects[k].AttachXy?.Object), ("joint.parent", objects[k].Joint?.Parent) })
                if (other is not null && !objects.Take(k).Any(o => o.Name == other))
                    throw root["objects"].Invalid($"object '{objects[k].Name}': {key} names '{other}', which must be an object listed before it");

        var cameras = root["cameras"].Items().Select(ReadCamera).ToList();
        Unique(cameras.Select(c => c.Name), root["cameras"], "camera");
        for (int i = 0; i < agents.Count; i++)
            if (cameras.All(c => c.Name != TaskConfig.HeadCameraName(i)))
                throw root["cameras"].Invalid($"missing camera '{TaskConfig.HeadCameraName(i)}' (one head camera per agent)");
        foreach (var required in new[] { TaskConfig.GlobalCameraName, TaskConfig.RenderCameraName })
            if (cameras.All(c => c.Name != required))
                throw root["cameras"].Invalid($"missing camera '{required}'");

        var w = root["wrist_camera"].AllowOnly("pose", "width", "height", "fovy", "near", "far");
        var (ww, wh, wf, wn, wfar) = Intrinsics(w);
        var wrist = new WristCameraConfig(SapienCameraToMuJoCo(ReadPose(w["pose"])), ww, wh, wf, wn, wfar);

        var success = new Dictionary<string, double>();
        foreach (var (key, value) in root["success"].Entries()) success[key] = value.Double();

        int maxSteps = root["max_episode_steps"].PositiveInt();
        return new TaskConfig(name, envId, root["instruction"].String(), maxSteps, physics, table,
            agents, objects, cameras, wrist, new SuccessThresholds(success, root.File), root.File);
    }

    private static AgentConfig ReadAgent(ConfigNode a, int index)
    {
        a.AllowOnly("base", "init_qpos");
        var b = a["base"].AllowOnly("p", "yaw");
        var p = b["p"].Doubles(3);
        var qpos = a["init_qpos"].Doubles(PandaSpec.QposDim);
        for (int j = 0; j < PandaSpec.ArmDof; j++)
            if (qpos[j] < PandaSpec.QMin[j] || qpos[j] > PandaSpec.QMax[j])
                throw a["init_qpos"].Invalid($"joint {j + 1} = {qpos[j]} is outside the Panda limits [{PandaSpec.QMin[j]}, {PandaSpec.QMax[j]}]");
        return new AgentConfig($"panda-{index}", new Pose(new Vec3(p[0], p[1], p[2]), Quat.FromYaw(b["yaw"].Double())), qpos);
    }

    private static ObjectConfig ReadObject(ConfigNode o)
    {
        o.AllowOnly("name", "kind", "pose", "randomize", "mass", "friction", "geoms", "grasp_points", "attach_xy_to", "joint");
        string kindText = o["kind"].String();
        var kind = kindText switch
        {
            "dynamic" => BodyKind.Dynamic,
            "kinematic" => BodyKind.Kinematic,
            _ => throw o["kind"].Error("'dynamic' or 'kinematic'"),
        };
        var pose = ReadPose(o["pose"]);
        var randomP = Vec3.Zero;
        bool randomYaw = false;
        if (o.Optional("randomize") is { } r)
        {
            r.AllowOnly("p", "yaw");
            if (r.Optional("p") is { } rp) randomP = Vector(rp);
            if (r.Optional("yaw") is { } ry) randomYaw = ry.Bool();
        }
        double mass = kind == BodyKind.Dynamic ? o["mass"].PositiveDouble() : 0;
        double friction = o.Optional("friction")?.PositiveDouble() ?? 0.5;
        var geoms = o["geoms"].Items().Select(ReadGeom).ToList();
        if (geoms.Count == 0) throw o["geoms"].Invalid("at least one geom is required");
        var grasp = o.Optional("grasp_points")?.Items().Select(Vector).ToList() ?? [];
        XyAttachment? attach = null;
        if (o.Optional("attach_xy_to") is { } at)
        {
            at.AllowOnly("object", "offset");
            var off = at.Optional("offset")?.Doubles(2) ?? [0, 0];
            attach = new XyAttachment(at["object"].String(), off[0], off[1]);
        }
        ObjectJoint? joint = null;
        if (o.Optional("joint") is { } jn)
        {
            if (kind != BodyKind.Dynamic) throw o["kind"].Invalid("an object on a joint must be 'dynamic' (it is simulated)");
            if (o.Has("randomize") || o.Has("attach_xy_to"))
                throw jn.Invalid("an object on a joint follows its parent: give neither randomize nor attach_xy_to");
            joint = ReadJoint(jn);
        }
        return new ObjectConfig(o["name"].String(), kind, pose, randomP, randomYaw, mass, friction, geoms, grasp, attach, joint);
    }

    private static ObjectJoint ReadJoint(ConfigNode j)
    {
        j.AllowOnly("parent", "type", "axis", "range", "damping");
        var type = j["type"].String() switch
        {
            "slide" => ObjectJointType.Slide,
            "hinge" => ObjectJointType.Hinge,
            _ => throw j["type"].Error("'slide' or 'hinge'"),
        };
        var axis = Vector(j["axis"]);
        if (axis.Length < 1e-9) throw j["axis"].Error("a non-zero vector");
        var range = j["range"].Doubles(2);
        if (!(range[0] <= 0 && 0 <= range[1] && range[0] < range[1]))
            throw j["range"].Error("[lo, hi] with lo ≤ 0 ≤ hi and lo < hi (the joint starts at 0)");
        double damping = j.Optional("damping")?.Double() ?? 0;
        if (damping < 0) throw j["damping"].Error("a number ≥ 0");
        return new ObjectJoint(j["parent"].String(), type, axis.Normalized(), range[0], range[1], damping);
    }

    private static GeomConfig ReadGeom(ConfigNode g)
    {
        g.AllowOnly("type", "size", "pos", "quat", "rgba", "collide");
        var type = g["type"].String() switch
        {
            "box" => GeomType.Box,
            "cylinder" => GeomType.Cylinder,
            "capsule" => GeomType.Capsule,
            "sphere" => GeomType.Sphere,
            _ => throw g["type"].Error("one of box, cylinder, capsule, sphere"),
        };
        int n = type switch { GeomType.Box => 3, GeomType.Sphere => 1, _ => 2 };
        var size = g["size"].Doubles(n);
        if (size.Any(s => s <= 0)) throw g["size"].Error($"{n} positive number(s)");
        var pos = g.Optional("pos") is { } p ? Vector(p) : Vec3.Zero;
        var quat = g.Optional("quat") is { } q ? Quaternion(q) : Quat.Identity;
        var rgba = g.Optional("rgba")?.Doubles(4) ?? [0.7, 0.7, 0.7, 1];
        if (rgba.Any(c => c < 0 || c > 1)) throw g["rgba"].Error("4 numbers in [0, 1]");
        return new GeomConfig(type, size, pos, quat, rgba, g.Optional("collide")?.Bool() ?? true);
    }

    private static CameraConfig ReadCamera(ConfigNode c)
    {
        c.AllowOnly("name", "look_at", "pose", "width", "height", "fovy", "near", "far");
        string name = c["name"].String();
        Pose pose;
        if (c.Optional("look_at") is { } la)
        {
            if (c.Has("pose")) throw c.Invalid("give either look_at or pose, not both");
            la.AllowOnly("eye", "target");
            pose = LookAt(Vector(la["eye"]), Vector(la["target"]), la);
        }
        else if (c.Optional("pose") is { } p) pose = SapienCameraToMuJoCo(ReadPose(p));
        else throw c.Invalid("missing 'look_at' or 'pose'");
        var (w, h, fovy, near, far) = Intrinsics(c);
        return new CameraConfig(name, pose, w, h, fovy, near, far);
    }

    private static (int W, int H, double Fovy, double Near, double Far) Intrinsics(ConfigNode c)
    {
        int w = c.Optional("width")?.PositiveInt() ?? 320, h = c.Optional("height")?.PositiveInt() ?? 240;
        double fovy = c.Optional("fovy")?.PositiveDouble() ?? 90;
        if (fovy >= 180) throw c["fovy"].Error("a vertical field of view in degrees, below 180");
        double near = c.Optional("near")?.PositiveDouble() ?? 0.01, far = c.Optional("far")?.PositiveDouble() ?? 10;
        if (far <= near) throw c.Invalid($"far ({far}) must exceed near ({near})");
        return (w, h, fovy, near, far);
    }

    /// <summary>Pose as {p: [x,y,z], q: [w,x,y,z]} (q optional, normalised) or {p, yaw}.</summary>
    private static Pose ReadPose(ConfigNode n)
    {
        n.AllowOnly("p", "q", "yaw");
        var p = Vector(n["p"]);
        if (n.Has("q") && n.Has("yaw")) throw n.Invalid("give either q or yaw, not both");
        var q = n.Optional("q") is { } qn ? Quaternion(qn) : n.Optional("yaw") is { } y ? Quat.FromYaw(y.Double()) : Quat.Identity;
        return new Pose(p, q);
    }

    private static Vec3 Vector(ConfigNode n) { var v = n.Doubles(3); return new Vec3(v[0], v[1], v[2]); }

    private static Vec3 PositiveVector(ConfigNode n)
    {
        var v = Vector(n);
        return v.X > 0 && v.Y > 0 && v.Z > 0 ? v : throw n.Error("3 positive numbers");
    }

    private static Quat Quaternion(ConfigNode n)
    {
        var q = n.Doubles(4);
        var quat = new Quat(q[0], q[1], q[2], q[3]);
        if (quat.Norm < 1e-6) throw n.Error("a non-zero quaternion [w, x, y, z]");
        return quat.Normalized();
    }

    private static void Unique(IEnumerable<string> names, ConfigNode where, string what)
    {
        var dup = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw where.Invalid($"duplicate {what} name '{dup.Key}'");
    }

    /// <summary>
    /// SAPIEN cameras look along their +x with +z up (y left); MuJoCo cameras look along −z with +y up.
    /// Same world pose, re-expressed: MuJoCo x = −left, y = up, z = −forward.
    /// </summary>
    public static Pose SapienCameraToMuJoCo(Pose sapien)
    {
        var fwd = sapien.Q.Rotate(Vec3.UnitX);
        var left = sapien.Q.Rotate(Vec3.UnitY);
        var up = sapien.Q.Rotate(Vec3.UnitZ);
        return new Pose(sapien.P, FromAxes(-left, up, -fwd));
    }

    /// <summary>MuJoCo camera pose at <paramref name="eye"/> looking at <paramref name="target"/>, world +z up (SAPIEN look_at).</summary>
    public static Pose LookAt(Vec3 eye, Vec3 target, ConfigNode? where = null)
    {
        var d = target - eye;
        if (d.Length < 1e-9) throw (Exception?)where?.Invalid("eye and target coincide") ?? new ArgumentException("eye == target");
        var fwd = d.Normalized();
        var right = fwd.Cross(Vec3.UnitZ);
        if (right.Length < 1e-9) right = Vec3.UnitY.Cross(fwd) * -1; // looking straight up/down: pick world +y as up
        right = right.Normalized();
        var up = right.Cross(fwd);
        return new Pose(eye, FromAxes(right, up, -fwd));
    }

    private static Quat FromAxes(Vec3 x, Vec3 y, Vec3 z) =>
        Quat.FromMatrix([x.X, y.X, z.X, x.Y, y.Y, z.Y, x.Z, y.Z, z.Z]);
}
