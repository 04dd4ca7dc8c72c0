using System.Diagnostics;
using System.Globalization;
using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Bench;

/// <summary>
/// `bench sim`: environment steps/s without and with cameras, and our stepping loop against a plain C loop
/// stepping the same MJCF the same way, interleaved in one run so both see the same machine state.
/// </summary>
public static class SimBench
{
    public sealed record Result(Timing NoCameras, Timing WithCameras, Timing CLoop, Timing OursVsC);

    public static Result Run(string task, int steps, int cameraSteps, int repeats, TextWriter log)
    {
        using var env = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: false));
        using var camEnv = TaskRegistry.CreateEnv(task, new EnvOptions(RenderObservations: true));
        string dir = Directory.CreateTempSubdirectory("robofactory-bench-").FullName;
        try
        {
            string xml = Path.Combine(dir, "scene.xml");
            File.WriteAllText(xml, env.Scene.Xml);
            env.Reset(0);
            string state = Path.Combine(dir, "state.txt");
            var inv = CultureInfo.InvariantCulture;
            var dofs = env.Scene.Arms.SelectMany(a => a.DofAddress).ToArray();
            File.WriteAllText(state, string.Join(' ',
                new[] { env.Task.Physics.Substeps.ToString(inv) }
                    .Concat(env.Data.Qpos.ToArray().Select(v => v.ToString("R", inv)))
                    .Concat(env.Data.Ctrl.ToArray().Select(v => v.ToString("R", inv)))
                    .Append(dofs.Length.ToString(inv)).Concat(dofs.Select(d => d.ToString(inv)))));
            string exe = BenchUtil.CompileNative("step_loop", "-lmujoco");
            var hold = Enumerable.Range(0, env.AgentCount).Select(i => env.Task.Agents[i].InitQpos.Take(7).Append(1.0).ToArray()).ToArray();

            var ours = new List<double>(); var c = new List<double>(); var ratio = new List<double>(); var cams = new List<double>();
            log.WriteLine($"bench sim: {task}, {steps} control steps x {env.Task.Physics.Substeps} substeps, {repeats} interleaved repeats");
            for (int r = 0; r < repeats; r++)
            {
                var cOut = BenchUtil.RunProcess(exe, xml, state, steps.ToString(inv)).Split(' ');
                double cSec = double.Parse(cOut[0], inv);

                env.Reset(0);
                var sw = Stopwatch.StartNew();
                for (int s = 0; s < steps; s++) env.Step(hold);
                double oursSec = sw.Elapsed.TotalSeconds;

                camEnv.Reset(0);
                sw.Restart();
                for (int s = 0; s < cameraSteps; s++) camEnv.Step(hold);
                double camSec = sw.Elapsed.TotalSeconds;

                ours.Add(steps / oursSec); c.Add(steps / cSec); ratio.Add(cSec / oursSec); cams.Add(cameraSteps / camSec);
                log.WriteLine(FormattableString.Invariant($"  repeat {r + 1}: ours {steps / oursSec:0} steps/s, C {steps / cSec:0} steps/s, ratio {cSec / oursSec:0.000}, with cameras {cameraSteps / camSec:0.0} steps/s"));
            }
            File.Delete(exe);
            return new Result(new Timing("env steps/s, no cameras", ours, "steps/s"),
                new Timing($"env steps/s, all {3 * env.AgentCount - (env.AgentCount - 1)} cameras", cams, "steps/s"),
                new Timing("plain C loop steps/s (same MJCF)", c, "steps/s"),
                new Timing("ours / C (throughput ratio, target >= 0.95)", ratio, "x"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
