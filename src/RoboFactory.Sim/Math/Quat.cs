namespace RoboFactory.Sim.Math;

/// <summary>Unit quaternion in MuJoCo/SAPIEN order (w, x, y, z).</summary>
public readonly record struct Quat(double W, double X, double Y, double Z)
{
    public static readonly Quat Identity = new(1, 0, 0, 0);

    public static Quat FromAxisAngle(Vec3 axis, double angle)
    {
        var a = axis.Normalized();
        double s = System.Math.Sin(angle / 2);
        return new Quat(System.Math.Cos(angle / 2), a.X * s, a.Y * s, a.Z * s);
    }

    /// <summary>Rotation about world z by <paramref name="yaw"/> (rad).</summary>
    public static Quat FromYaw(double yaw) => FromAxisAngle(Vec3.UnitZ, yaw);

    /// <summary>Euler angles applied as roll about x, then pitch about y, then yaw about z (static axes), like transforms3d's default 'sxyz'.</summary>
    public static Quat FromEuler(double roll, double pitch, double yaw) =>
        FromAxisAngle(Vec3.UnitZ, yaw) * FromAxisAngle(Vec3.UnitY, pitch) * FromAxisAngle(Vec3.UnitX, roll);

    public static Quat operator *(Quat a, Quat b) => new(
        a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z,
        a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
        a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
        a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W);

    public Quat Conjugate => new(W, -X, -Y, -Z);
    public double Norm => System.Math.Sqrt(W * W + X * X + Y * Y + Z * Z);
    public Quat Normalized() { double n = Norm; return new Quat(W / n, X / n, Y / n, Z / n); }

    public Vec3 Rotate(Vec3 v)
    {
        var u = new Vec3(X, Y, Z);
        var t = 2 * u.Cross(v);
        return v + W * t + u.Cross(t);
    }

    /// <summary>Row-major 3×3 rotation matrix (MuJoCo's xmat layout).</summary>
    public double[] ToMatrix()
    {
        double w = W, x = X, y = Y, z = Z;
        return
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ];
    }

    /// <summary>From a row-major rotation matrix (Shepperd's method; w ≥ 0).</summary>
    public static Quat FromMatrix(ReadOnlySpan<double> m)
    {
        double tr = m[0] + m[4] + m[8];
        Quat q;
        if (tr > 0)
        {
            double s = System.Math.Sqrt(tr + 1.0) * 2;
            q = new Quat(0.25 * s, (m[7] - m[5]) / s, (m[2] - m[6]) / s, (m[3] - m[1]) / s);
        }
        else if (m[0] > m[4] && m[0] > m[8])
        {
            double s = System.Math.Sqrt(1.0 + m[0] - m[4] - m[8]) * 2;
            q = new Quat((m[7] - m[5]) / s, 0.25 * s, (m[1] + m[3]) / s, (m[2] + m[6]) / s);
        }
        else if (m[4] > m[8])
        {
            double s = System.Math.Sqrt(1.0 + m[4] - m[0] - m[8]) * 2;
            q = new Quat((m[2] - m[6]) / s, (m[1] + m[3]) / s, 0.25 * s, (m[5] + m[7]) / s);
        }
        else
        {
            double s = System.Math.Sqrt(1.0 + m[8] - m[0] - m[4]) * 2;
            q = new Quat((m[3] - m[1]) / s, (m[2] + m[6]) / s, (m[5] + m[7]) / s, 0.25 * s);
        }
        q = q.Normalized();
        return q.W < 0 ? new Quat(-q.W, -q.X, -q.Y, -q.Z) : q;
    }

    /// <summary>Yaw (rotation about world z) of the rotated x axis.</summary>
    public double Yaw { get { var x = Rotate(Vec3.UnitX); return System.Math.Atan2(x.Y, x.X); } }

    /// <summary>Rotation vector (axis·angle) of this rotation, angle in [0, π].</summary>
    public Vec3 ToRotationVector()
    {
        var q = W < 0 ? new Quat(-W, -X, -Y, -Z) : this;
        double s = System.Math.Sqrt(q.X * q.X + q.Y * q.Y + q.Z * q.Z);
        if (s < 1e-12) return new Vec3(2 * q.X, 2 * q.Y, 2 * q.Z);
        double angle = 2 * System.Math.Atan2(s, q.W);
        return new Vec3(q.X, q.Y, q.Z) * (angle / s);
    }

    public static Quat FromRotationVector(Vec3 r)
    {
        double angle = r.Length;
        return angle < 1e-12 ? new Quat(1, r.X / 2, r.Y / 2, r.Z / 2).Normalized() : FromAxisAngle(r, angle);
    }

    /// <summary>Spherical linear interpolation along the shorter arc.</summary>
    public static Quat Slerp(Quat a, Quat b, double t)
    {
        double dot = a.W * b.W + a.X * b.X + a.Y * b.Y + a.Z * b.Z;
        if (dot < 0) { b = new Quat(-b.W, -b.X, -b.Y, -b.Z); dot = -dot; }
        if (dot > 0.9995)
            return new Quat(a.W + t * (b.W - a.W), a.X + t * (b.X - a.X), a.Y + t * (b.Y - a.Y), a.Z + t * (b.Z - a.Z)).Normalized();
        double theta = System.Math.Acos(dot), sin = System.Math.Sin(theta);
        double wa = System.Math.Sin((1 - t) * theta) / sin, wb = System.Math.Sin(t * theta) / sin;
        return new Quat(wa * a.W + wb * b.W, wa * a.X + wb * b.X, wa * a.Y + wb * b.Y, wa * a.Z + wb * b.Z);
    }

    public double[] ToArray() => [W, X, Y, Z];
    public override string ToString() => FormattableString.Invariant($"({W:0.####}, {X:0.####}, {Y:0.####}, {Z:0.####})");
}
