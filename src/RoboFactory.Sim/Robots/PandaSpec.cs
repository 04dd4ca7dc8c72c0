namespace RoboFactory.Sim.Robots;

/// <summary>
/// Public Franka Panda facts: modified DH and limits from Franka's FCI documentation (frankaemika.github.io/docs/control_parameters.html),
/// rounded link masses; the table, conventions and self-checks are in docs/simulator.md ("The Panda").
/// </summary>
public static class PandaSpec
{
    public const int ArmDof = 7;
    /// <summary>qpos per arm: 7 joints + 2 fingers.</summary>
    public const int QposDim = 9;
    /// <summary>pd_joint_pos action: 7 absolute joint targets + gripper command in [-1, 1].</summary>
    public const int ActionDim = 8;

    /// <summary>Craig's modified DH rows (a, d, alpha) for joints 1..7 and the flange.</summary>
    public static readonly (double A, double D, double Alpha)[] Dh =
    [
        (0, 0.333, 0), (0, 0, -System.Math.PI / 2), (0, 0.316, System.Math.PI / 2), (0.0825, 0, System.Math.PI / 2),
        (-0.0825, 0.384, -System.Math.PI / 2), (0, 0, System.Math.PI / 2), (0.088, 0, System.Math.PI / 2), (0, 0.107, 0),
    ];

    public static readonly double[] QMin = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973];
    public static readonly double[] QMax = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973];
    public static readonly double[] MaxVelocity = [2.1750, 2.1750, 2.1750, 2.1750, 2.6100, 2.6100, 2.6100];
    public static readonly double[] MaxAcceleration = [15, 7.5, 10, 12.5, 15, 20, 20];
    public static readonly double[] MaxTorque = [87, 87, 87, 87, 12, 12, 12];
    public static readonly double[] LinkMass = [5.0, 0.65, 3.2, 3.6, 1.2, 1.7, 0.7];
    public const double HandMass = 0.7, FingerMass = 0.015;

    /// <summary>Hand is rotated −π/4 about the flange z axis; the TCP is 0.1034 m beyond the flange.</summary>
    public const double HandYaw = -System.Math.PI / 4, TcpOffset = 0.1034;
    /// <summary>Fingers are mounted this far along the hand z axis.</summary>
    public const double FingerBase = 0.0584;
    public const double FingerMax = 0.04;

    /// <summary>Upstream (ManiSkill pd_joint_pos) drive: stiffness, damping, force limit for arm and fingers.</summary>
    public const double Stiffness = 1e3, Damping = 1e2, ForceLimit = 100;
    /// <summary>Gripper command −1…1 maps linearly to finger targets −0.01…0.04 m.</summary>
    public const double GripperLow = -0.01, GripperHigh = 0.04;

    /// <summary>Finger target (m) for a gripper command; commands outside [−1, 1] are clamped.</summary>
    public static double FingerTarget(double command)
    {
        double c = System.Math.Clamp(double.IsNaN(command) ? 0 : command, -1, 1);
        return GripperLow + (c + 1) / 2 * (GripperHigh - GripperLow);
    }

    /// <summary>Most upstream tasks' initial joints: [0, π/8, 0, −5π/8, 0, 3π/4, π/4] with fingers open.</summary>
    public static readonly double[] RestQpos =
        [0, System.Math.PI / 8, 0, -5 * System.Math.PI / 8, 0, 3 * System.Math.PI / 4, System.Math.PI / 4, 0.04, 0.04];
}
