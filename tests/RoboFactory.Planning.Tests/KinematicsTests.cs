using RoboFactory.Sim.Env;
using RoboFactory.Sim.Math;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Planning.Tests;

public class KinematicsTests
{
    private static MultiAgentEnv Env() => TaskRegistry.CreateEnv("LiftBarrier", new EnvOptions(RenderObservations: false));

    [Fact]
    public void ForwardKinematicsAgreesWithTheSimulator()
    {
        using var env = Env();
        env.Reset(0);
        using var kin = new ArmKinematics(env.Scene, 1);
        var fk = kin.Forward(env.ArmQpos(1));
        var sim = env.TcpPose(1);
        Assert.True((fk.P - sim.P).Length < 1e-9);
        Assert.True((fk.Q * sim.Q.Conjugate).ToRotationVector().Length < 1e-9);
    }

    [Fact]
    public void InverseKinematicsReachesRandomReachablePosesWithinLimits()
    {
        using var env = Env();
        env.Reset(0);
        using var kin = new ArmKinematics(env.Scene, 0);
        var rng = new EpisodeRng(7);
        var rest = PandaSpec.RestQpos.Take(7).ToArray();
        int solved = 0;
        for (int trial = 0; trial < 30; trial++)
        {
            // a random configuration near rest defines a reachable target
            var q = rest.Select((v, j) => System.Math.Clamp(v + 0.5 * (2 * rng.NextDouble() - 1), PandaSpec.QMin[j], PandaSpec.QMax[j])).ToArray();
            var target = kin.Forward(q);
            var sol = kin.Inverse(target, rest);
            if (sol is null) continue;
            solved++;
            var reached = kin.Forward(sol);
            Assert.True((reached.P - target.P).Length < 1e-3);
            Assert.True((reached.Q * target.Q.Conjugate).ToRotationVector().Length < 1e-2);
            for (int j = 0; j < 7; j++) Assert.InRange(sol[j], PandaSpec.QMin[j], PandaSpec.QMax[j]);
        }
        Assert.True(solved >= 27, $"only {solved}/30 solved");
    }

    [Fact]
    public void UnreachablePoseReturnsNull()
    {
        using var env = Env();
        env.Reset(0);
        using var kin = new ArmKinematics(env.Scene, 0);
        var far = new Pose(env.BasePose(0).P + new Vec3(0, 2.0, 0.3), Quat.Identity);
        Assert.Null(kin.Inverse(far, PandaSpec.RestQpos));
    }

    [Fact]
    public void TimeParameterizationRespectsVelocityAndAccelerationLimits()
    {
        var path = new List<double[]> { new double[] { 0, 0 }, new double[] { 1.0, -0.5 }, new double[] { 1.5, 0.2 } };
        const double dt = 0.05, v = 0.9, a = 0.9;
        var s = TimeParameterization.Sample(path, dt, v, a);
        Assert.Equal(path[^1], s[^1]);
        var all = new List<double[]> { path[0] };
        all.AddRange(s);
        for (int k = 1; k < all.Count; k++)
            for (int j = 0; j < 2; j++)
                Assert.True(System.Math.Abs(all[k][j] - all[k - 1][j]) / dt <= v + 1e-6, $"velocity at sample {k}");
        // along a straight segment the profile's acceleration bound holds exactly (corners of a polyline are not smoothed)
        var line = TimeParameterization.Sample([new double[] { 0, 0 }, new double[] { 1.2, -0.6 }], dt, v, a);
        var seq = new List<double[]> { new double[] { 0, 0 }, new double[] { 0, 0 } };
        seq.AddRange(line);
        for (int k = 2; k < seq.Count; k++)
            for (int j = 0; j < 2; j++)
            {
                double acc = System.Math.Abs(seq[k][j] - 2 * seq[k - 1][j] + seq[k - 2][j]) / (dt * dt);
                Assert.True(acc <= a + 1e-6, $"acceleration {acc} at sample {k}");
            }
        // a longer common duration stretches the same path
        var slow = TimeParameterization.Sample(path, dt, v, a, minDuration: 2 * s.Count * dt);
        Assert.InRange(slow.Count, 2 * s.Count - 1, 2 * s.Count + 1);
    }
}
