using System.Xml.Linq;
using RoboFactory.Sim.Math;
using static RoboFactory.Sim.Scene.Mjcf;

namespace RoboFactory.Sim.Robots;

/// <summary>
/// Writes one Franka Panda as MJCF from the public kinematic facts: link frames from the modified DH table,
/// collision/visual shapes from capsules and boxes, a two-finger parallel gripper, pd_joint_pos actuators.
/// Every name is prefixed (e.g. "panda0_") so several arms can share one scene.
/// </summary>
public static class PandaMjcf
{
    /// <summary>Geoms of the arm collide with objects and the table (contype 2) but not with each other (conaffinity 0).</summary>
    public const int RobotContype = 2, RobotConaffinity = 0;

    public static string JointName(string prefix, int i) => $"{prefix}joint{i + 1}";
    public static string FingerJointName(string prefix, int i) => $"{prefix}finger_joint{i + 1}";
    public static string HandName(string prefix) => $"{prefix}hand";
    public static string TcpSiteName(string prefix) => $"{prefix}tcp";
    public static string LinkName(string prefix, int i) => $"{prefix}link{i}";
    public static string ActuatorName(string prefix, int i) => $"{prefix}act{i + 1}";
    public static string FingerActuatorName(string prefix, int i) => $"{prefix}finger_act{i + 1}";

    // Approximate link shapes in each link's own frame: capsules "fromto" with a radius (m).
    private static readonly (double[] FromTo, double Radius)[][] LinkCapsules =
    [
        [([0, 0, -0.19, 0, 0, -0.02], 0.06)],                                        // link1
        [([0, 0, 0, 0, -0.19, 0], 0.06)],                                            // link2
        [([0, 0, -0.13, 0, 0, 0], 0.06), ([0, 0, 0, 0.0825, 0, 0], 0.055)],          // link3
        [([0, 0, 0, -0.0825, 0.12, 0], 0.055)],                                      // link4
        [([0, 0, -0.26, 0, 0, -0.02], 0.05)],                                        // link5
        [([0, 0, 0, 0.088, 0, 0], 0.05)],                                            // link6
        [([0, 0, -0.01, 0, 0, 0.08], 0.045)],                                        // link7
    ];

    private static readonly string White = "0.93 0.93 0.93 1", Dark = "0.25 0.25 0.27 1", FingerRgba = "0.15 0.15 0.15 1";

    /// <summary>The arm's body tree, rooted at link0 placed at <paramref name="basePose"/>.</summary>
    public static XElement Body(string prefix, Pose basePose, XElement? wristCamera)
    {
        var link0 = El("body", A("name", LinkName(prefix, 0)), A("pos", Vec(basePose.P)), A("quat", Quat(basePose.Q)),
            El("geom", A("type", "cylinder"), A("fromto", "0 0 0 0 0 0.13"), A("size", 0.075), A("rgba", Dark),
                A("contype", RobotContype), A("conaffinity", RobotConaffinity), A("mass", 4.0)));

        XElement parent = link0;
        for (int i = 0; i < PandaSpec.ArmDof; i++)
        {
            var (a, d, alpha) = PandaSpec.Dh[i];
            var pos = new Vec3(a, -System.Math.Sin(alpha) * d, System.Math.Cos(alpha) * d);
            var body = El("body", A("name", LinkName(prefix, i + 1)), A("pos", Vec(pos)),
                A("quat", Quat(Math.Quat.FromAxisAngle(Vec3.UnitX, alpha))),
                El("joint", A("name", JointName(prefix, i)), A("type", "hinge"), A("axis", "0 0 1"),
                    A("range", Nums(PandaSpec.QMin[i], PandaSpec.QMax[i])), A("limited", "true"), A("armature", 0.1)));
            var caps = LinkCapsules[i];
            for (int g = 0; g < caps.Length; g++)
                body.Add(El("geom", A("type", "capsule"), A("fromto", Nums(caps[g].FromTo)), A("size", caps[g].Radius),
                    A("rgba", g == 0 ? White : Dark), A("contype", RobotContype), A("conaffinity", RobotConaffinity),
                    A("mass", g == 0 ? PandaSpec.LinkMass[i] : 0.01)));
            parent.Add(body);
            parent = body;
        }

        // Hand on the flange, rotated -pi/4 about the flange z axis.
        var hand = El("body", A("name", HandName(prefix)), A("pos", Nums(0, 0, PandaSpec.Dh[7].D)),
            A("quat", Quat(Math.Quat.FromYaw(PandaSpec.HandYaw))),
            El("geom", A("type", "box"), A("size", "0.022 0.1 0.028"), A("pos", "0 0 0.03"), A("rgba", White),
                A("contype", RobotContype), A("conaffinity", RobotConaffinity), A("mass", PandaSpec.HandMass)),
            El("geom", A("type", "cylinder"), A("fromto", "0 0 -0.005 0 0 0.006"), A("size", 0.04), A("rgba", Dark),
                A("contype", RobotContype), A("conaffinity", RobotConaffinity), A("mass", 0.01)),
            El("site", A("name", TcpSiteName(prefix)), A("pos", Nums(0, 0, PandaSpec.TcpOffset)), A("size", 0.005),
                A("rgba", "1 0 0 0"), A("group", 3)));
        for (int f = 0; f < 2; f++)
        {
            double s = f == 0 ? 1 : -1; // finger 1 slides along +y of the hand, finger 2 along -y
            hand.Add(El("body", A("name", $"{prefix}finger{f + 1}"), A("pos", Nums(0, 0, PandaSpec.FingerBase)),
                El("joint", A("name", FingerJointName(prefix, f)), A("type", "slide"), A("axis", Nums(0, s, 0)),
                    A("range", Nums(0, PandaSpec.FingerMax)), A("limited", "true"), A("armature", 0.01)),
                El("geom", A("type", "box"), A("size", "0.011 0.008 0.027"), A("pos", Nums(0, s * 0.008, 0.027)),
                    A("rgba", FingerRgba), A("contype", RobotContype), A("conaffinity", RobotConaffinity),
                    A("mass", PandaSpec.FingerMass), A("friction", "1.0 0.02 0.0001"), A("condim", 4))));
        }
        if (wristCamera is not null) hand.Add(wristCamera);
        parent.Add(hand);
        return link0;
    }

    /// <summary>pd_joint_pos drives: force = kp·(target − q) − kd·q̇, clipped to the force limit (ManiSkill's PD drive).</summary>
    public static IEnumerable<XElement> Actuators(string prefix)
    {
        for (int i = 0; i < PandaSpec.ArmDof; i++)
            yield return Drive(ActuatorName(prefix, i), JointName(prefix, i));
        for (int f = 0; f < 2; f++)
            yield return Drive(FingerActuatorName(prefix, f), FingerJointName(prefix, f));
    }

    private static XElement Drive(string name, string joint) =>
        El("general", A("name", name), A("joint", joint), A("gaintype", "fixed"), A("gainprm", PandaSpec.Stiffness),
            A("biastype", "affine"), A("biasprm", Nums(0, -PandaSpec.Stiffness, -PandaSpec.Damping)),
            A("forcelimited", "true"), A("forcerange", Nums(-PandaSpec.ForceLimit, PandaSpec.ForceLimit)),
            A("ctrllimited", "false"));
}
