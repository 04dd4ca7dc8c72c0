using RoboFactory.Sim.Interop;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;
using RoboFactory.Sim.Scene;

namespace RoboFactory.Planning;

/// <summary>
/// Forward and inverse kinematics of one Panda in a compiled scene, computed by MuJoCo on a private copy of the
/// state (the simulation itself is never touched). IK is damped least squares on the TCP site Jacobian,
/// respecting the joint limits.
/// </summary>
public sealed class ArmKinematics : IDisposable
{
    private readonly CompiledScene scene;
    private readonly ArmIndex arm;
    private readonly MjData data;
    private readonly double[] jacp, jacr;

    public int Agent { get; }

    public ArmKinematics(CompiledScene scene, int agent)
    {
        this.scene = scene;
        Agent = agent;
        arm = scene.Arms[agent];
        data = new MjData(scene.Model);
        jacp = new double[3 * scene.Model.nv];
        jacr = new double[3 * scene.Model.nv];
    }

    private void SetJoints(ReadOnlySpan<double> q7)
    {
        var qpos = data.Qpos;
        for (int j = 0; j < PandaSpec.ArmDof; j++) qpos[arm.QposAddress[j]] = q7[j];
        data.Forward();
    }

    /// <summary>World pose of the TCP for the 7 arm joints.</summary>
    public Pose Forward(ReadOnlySpan<double> q7)
    {
        SetJoints(q7);
        return data.SitePose(arm.TcpSite);
    }

    /// <summary>
    /// Joints that put the TCP at <paramref name="target"/>, starting from <paramref name="seed"/>; null when the
    /// pose is not reached within tolerance (1 mm, 0.01 rad).
    /// </summary>
    public double[]? Inverse(Pose target, ReadOnlySpan<double> seed, int maxIterations = 300)
    {
        var q = seed[..PandaSpec.ArmDof].ToArray();
        Span<double> e = stackalloc double[6];
        var J = new double[6 * 7];
        var A = new double[36];
        var y = new double[6];
        for (int it = 0; it < maxIterations; it++)
        {
            SetJoints(q);
            var cur = data.SitePose(arm.TcpSite);
            var ep = target.P - cur.P;
            var er = (target.Q * cur.Q.Conjugate).ToRotationVector();
            if (ep.Length < 1e-4 && er.Length < 1e-3) return q;
            e[0] = ep.X; e[1] = ep.Y; e[2] = ep.Z; e[3] = er.X; e[4] = er.Y; e[5] = er.Z;

            data.SiteJacobian(arm.TcpSite, jacp, jacr);
            int nv = scene.Model.nv;
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 7; c++)
                {
                    J[r * 7 + c] = jacp[r * nv + arm.DofAddress[c]];
                    J[(r + 3) * 7 + c] = jacr[r * nv + arm.DofAddress[c]];
                }
            // dq = Jᵀ (J Jᵀ + λ² I)⁻¹ e
            const double lambda2 = 1e-4;
            for (int r = 0; r < 6; r++)
                for (int c = 0; c < 6; c++)
                {
                    double s = r == c ? lambda2 : 0;
                    for (int k = 0; k < 7; k++) s += J[r * 7 + k] * J[c * 7 + k];
                    A[r * 6 + c] = s;
                }
            e.CopyTo(y);
            LinearAlgebra.SolveInPlace(A, y, 6);
            double norm = 0;
            var dq = new double[7];
            for (int k = 0; k < 7; k++)
            {
                double s = 0;
                for (int r = 0; r < 6; r++) s += J[r * 7 + k] * y[r];
                dq[k] = s;
                norm += s * s;
            }
            norm = System.Math.Sqrt(norm);
            double scale = norm > 0.2 ? 0.2 / norm : 1; // small steps keep the iteration on the same IK branch
            for (int k = 0; k < 7; k++)
                q[k] = System.Math.Clamp(q[k] + scale * dq[k], PandaSpec.QMin[k] + 1e-4, PandaSpec.QMax[k] - 1e-4);
        }
        SetJoints(q);
        var final = data.SitePose(arm.TcpSite);
        bool ok = (target.P - final.P).Length < 1e-3 && (target.Q * final.Q.Conjugate).ToRotationVector().Length < 1e-2;
        return ok ? q : null;
    }

    public void Dispose() => data.Dispose();
}

internal static class LinearAlgebra
{
    /// <summary>Solves A x = b for a small dense symmetric positive definite A (Cholesky); b is overwritten by x.</summary>
    public static void SolveInPlace(double[] a, double[] b, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
                if (i == j) l[i * n + i] = System.Math.Sqrt(System.Math.Max(s, 1e-18));
                else l[i * n + j] = s / l[j * n + j];
            }
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i * n + k] * b[k];
            b[i] = s / l[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--)
        {
            double s = b[i];
            for (int k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
            b[i] = s / l[i * n + i];
        }
    }
}
