namespace RoboFactory.Sim.Math;

/// <summary>Rigid transform: position p and orientation q (w,x,y,z), like SAPIEN's Pose.</summary>
public readonly record struct Pose(Vec3 P, Quat Q)
{
    public static readonly Pose Identity = new(Vec3.Zero, Quat.Identity);

    public static Pose operator *(Pose a, Pose b) => new(a.P + a.Q.Rotate(b.P), a.Q * b.Q);
    public Pose Inverse() { var qi = Q.Conjugate; return new Pose(-qi.Rotate(P), qi); }
    public Vec3 Transform(Vec3 v) => P + Q.Rotate(v);

    /// <summary>7 numbers: x, y, z, qw, qx, qy, qz (ManiSkill's tcp_pose layout).</summary>
    public double[] ToArray() => [P.X, P.Y, P.Z, Q.W, Q.X, Q.Y, Q.Z];
    public override string ToString() => $"p={P} q={Q}";
}
