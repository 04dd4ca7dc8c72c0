using System.Diagnostics;
using RoboFactory.Sim.Interop;

namespace RoboFactory.Sim.Tests;

public class InteropLayoutTests
{
    /// <summary>Compiles mujoco_layout.c against the installed headers and compares every mirrored offset/size.</summary>
    [Fact]
    public void StructOffsetsMatchTheInstalledHeaders()
    {
        string source = TestScenes.RepoFile("src", "RoboFactory.Sim", "Interop", "mujoco_layout.c");
        string exe = Path.Combine(Path.GetTempPath(), $"mujoco_layout_{Environment.ProcessId}");
        Run("gcc", $"-o {exe} {source}");
        string output = Run(exe, "");
        File.Delete(exe);
        var reported = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => long.Parse(p[1]));
        Assert.Equal(reported.Keys.Order(), MjLayout.All.Keys.Order());
        var mismatches = reported.Where(kv => MjLayout.All[kv.Key] != kv.Value)
            .Select(kv => $"{kv.Key}: header {kv.Value}, MjLayout {MjLayout.All[kv.Key]}").ToList();
        Assert.Empty(mismatches);
    }

    [Fact]
    public void LibraryIsMuJoCo222() => Assert.Equal(222, MjModel.LibraryVersion);

    [Fact]
    public void ModelSizesReadThroughTheLayoutMatchTheMjcf()
    {
        using var m = MjModel.FromXmlString("""
            <mujoco><compiler angle="radian"/><worldbody>
              <body name="a" pos="0 0 1"><freejoint/><geom type="box" size=".1 .1 .1" mass="1"/>
                <site name="s" pos="0 0 .1"/></body>
              <body name="b" pos="1 0 1"><joint name="h" type="hinge" range="-1 2" limited="true"/><geom type="sphere" size=".1" mass="2"/></body>
              <camera name="c" pos="0 0 3" fovy="60"/>
            </worldbody><actuator><motor joint="h"/></actuator></mujoco>
            """);
        Assert.Equal((8, 7, 1, 3, 2, 2, 1, 1), (m.nq, m.nv, m.nu, m.nbody, m.njnt, m.ngeom, m.nsite, m.ncam));
        int h = m.Id(MjObject.Joint, "h");
        Assert.Equal((7, 6), (m.JointQposAddress(h), m.JointDofAddress(h)));
        Assert.Equal((-1.0, 2.0), m.JointRange(h));
        Assert.Equal(2.0, m.BodyMass(m.Id(MjObject.Body, "b")), 9);
        Assert.Equal(60.0, m.CameraFovy(0), 9);
        Assert.Equal(0.002, m.Timestep, 12);
        using var d = new MjData(m);
        d.Forward();
        Assert.Equal(1.1, d.SitePosition(0).Z, 9);
        Assert.Equal(1.0, d.BodyPosition(m.Id(MjObject.Body, "b")).X, 9);
    }

    [Fact]
    public void LoadErrorsCarryMuJoCosMessage()
    {
        var e = Assert.Throws<MuJoCoException>(() => MjModel.FromXmlString("<mujoco><worldbody><geom type='box'/></worldbody></mujoco>"));
        Assert.Contains("size", e.Message, StringComparison.OrdinalIgnoreCase);
        var e2 = Assert.Throws<MuJoCoException>(() => MjModel.FromXmlString("<mujoco><worldbody><bogus/></worldbody></mujoco>"));
        Assert.Contains("bogus", e2.Message);
    }

    [Fact]
    public void InstabilityIsSurfacedAsAWarning()
    {
        using var m = MjModel.FromXmlString("""
            <mujoco><option timestep="0.01"/><worldbody>
              <body><joint name="j" type="slide" axis="1 0 0"/><geom type="sphere" size=".1" mass="1e-9"/></body>
            </worldbody><actuator><motor joint="j" gear="1e8"/></actuator></mujoco>
            """);
        using var d = new MjData(m);
        d.Ctrl[0] = 1e4;
        for (int i = 0; i < 5; i++) d.Step();
        Assert.True(d.Unstable);
        var w = d.TakeWarnings();
        Assert.NotEmpty(w);
        Assert.False(d.Unstable);
    }

    private static string Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args} failed: {stderr}");
        return stdout;
    }
}
