using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RoboFactory.Planning;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Core.Imaging;
using RoboFactory.Sim.Robots;

namespace RoboFactory.Cli.Commands;

/// <summary>`sim info | render | rollout`: look at a task's scene without any learning.</summary>
public static class SimCommands
{
    public static Command Build()
    {
        var sim = new Command("sim", "Inspect, render and roll out the simulated tasks (MuJoCo, headless).");
        sim.Subcommands.Add(Info());
        sim.Subcommands.Add(Render());
        sim.Subcommands.Add(Rollout());
        return sim;
    }

    internal static Option<string> TaskOption() => new("--task")
    {
        Description = "Task name, with or without the -rf suffix: " + string.Join(", ", TaskRegistry.All.Select(t => t.Name)),
        Required = true,
    };

    internal static Option<string?> ConfigOption() => new("--config")
    {
        Description = "Task YAML to use instead of configs/table/<task>.yaml",
    };

    private static Command Info()
    {
        var cmd = new Command("info", "Print a task's agents, cameras, action and observation spaces.");
        var task = TaskOption(); var config = ConfigOption();
        cmd.Options.Add(task); cmd.Options.Add(config);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var (cfg, _) = TaskRegistry.Load(r.GetValue(task)!, r.GetValue(config));
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine($"task            {cfg.Name} ({cfg.EnvId})  config {Path.GetRelativePath(Directory.GetCurrentDirectory(), cfg.SourceFile)}");
            Console.WriteLine($"instruction     \"{cfg.Instruction}\"");
            Console.WriteLine($"control         pd_joint_pos at {cfg.Physics.ControlFreq} Hz, {cfg.Physics.Substeps} physics substeps of {(cfg.Physics.Timestep * 1000).ToString("0.###", inv)} ms; max {cfg.MaxEpisodeSteps} steps");
            Console.WriteLine($"agents          {cfg.Agents.Count}");
            for (int i = 0; i < cfg.Agents.Count; i++)
            {
                var a = cfg.Agents[i];
                Console.WriteLine($"  {a.Name}       base p={a.Base.P} yaw={(a.Base.Q.Yaw * 180 / System.Math.PI).ToString("0.#", inv)}°  init qpos [{string.Join(", ", a.InitQpos.Select(v => v.ToString("0.####", inv)))}]");
            }
            Console.WriteLine($"action space    per agent: Box({PandaSpec.ActionDim}) float = 7 absolute joint targets (rad) + gripper command in [-1, 1] (-1 closed, +1 open)");
            Console.WriteLine("observation     per agent: qpos (9), qvel (9), tcp_pose (7: x y z qw qx qy qz), images uint8 HxWx3:");
            for (int i = 0; i < cfg.Agents.Count; i++)
            {
                var h = cfg.Camera(TaskConfig.HeadCameraName(i));
                var g = cfg.Camera(TaskConfig.GlobalCameraName);
                Console.WriteLine($"  agent {i}: head {h.Name} {h.Width}x{h.Height}, global {g.Name} {g.Width}x{g.Height}, wrist {TaskConfig.WristCameraName(i)} {cfg.WristCamera.Width}x{cfg.WristCamera.Height}");
            }
            Console.WriteLine("cameras");
            foreach (var c in cfg.Cameras)
                Console.WriteLine($"  {c.Name,-22} {c.Width}x{c.Height} fovy {c.FovyDegrees.ToString("0.#", inv)}°  at {c.Pose.P}");
            Console.WriteLine($"  wrist_camera_agent{{i}}   {cfg.WristCamera.Width}x{cfg.WristCamera.Height} fovy {cfg.WristCamera.FovyDegrees.ToString("0.#", inv)}°  on panda hand");
            Console.WriteLine("objects");
            foreach (var o in cfg.Objects)
                Console.WriteLine($"  {o.Name,-14} {o.Kind.ToString().ToLowerInvariant()}, mass {o.Mass.ToString("0.###", inv)} kg, {o.Geoms.Count} primitive(s), p0 {o.Pose.P} + {o.RandomizeP}·U[0,1)^3{(o.RandomYaw ? " + random yaw" : "")}");
            Console.WriteLine("success         " + string.Join(", ", cfg.Success.Values.Select(kv => $"{kv.Key} = {kv.Value.ToString(inv)}")));
        }));
        return cmd;
    }

    private static Command Render()
    {
        var cmd = new Command("render", "Reset a task with a seed and write one PNG per camera, named by camera.");
        var task = TaskOption(); var config = ConfigOption();
        var seed = new Option<int>("--seed") { Description = "Episode seed (object layout)", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "Output folder", DefaultValueFactory = _ => "renders" };
        cmd.Options.Add(task); cmd.Options.Add(config); cmd.Options.Add(seed); cmd.Options.Add(outDir);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var env = TaskRegistry.CreateEnv(r.GetValue(task)!, new EnvOptions(RenderObservations: false), r.GetValue(config));
            env.Reset(r.GetValue(seed));
            string dir = r.GetValue(outDir)!;
            var names = env.Task.Cameras.Select(c => c.Name)
                .Concat(Enumerable.Range(0, env.AgentCount).Select(TaskConfig.WristCameraName));
            foreach (var name in names)
            {
                var img = env.RenderCamera(name);
                string path = Path.Combine(dir, name + ".png");
                Png.Write(path, img);
                Console.WriteLine($"{path}  {img.Width}x{img.Height}");
            }
        }));
        return cmd;
    }

    private static Command Rollout()
    {
        var cmd = new Command("rollout", "Step a task with a simple policy; print steps/s and a hash of the final state.");
        var task = TaskOption(); var config = ConfigOption();
        var seed = new Option<int>("--seed") { Description = "Episode seed (layout and random actions)", DefaultValueFactory = _ => 0 };
        var steps = new Option<int>("--steps") { Description = "Control steps to run", DefaultValueFactory = _ => 200 };
        var policy = new Option<string>("--policy") { Description = "hold: keep the initial joints; random: small random joint targets around them", DefaultValueFactory = _ => "hold" };
        policy.AcceptOnlyFromAmong("hold", "random");
        var cameras = new Option<bool>("--cameras") { Description = "Also render every agent's three views each step" };
        cmd.Options.Add(task); cmd.Options.Add(config); cmd.Options.Add(seed); cmd.Options.Add(steps); cmd.Options.Add(policy); cmd.Options.Add(cameras);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var env = TaskRegistry.CreateEnv(r.GetValue(task)!, new EnvOptions(RenderObservations: r.GetValue(cameras)), r.GetValue(config));
            int s = r.GetValue(seed), n = r.GetValue(steps);
            env.Reset(s);
            var rng = new EpisodeRng(s ^ 0x5EED);
            bool random = r.GetValue(policy) == "random";
            var sw = Stopwatch.StartNew();
            StepResult? last = null;
            int done = 0;
            for (; done < n; done++)
            {
                var actions = new double[env.AgentCount][];
                for (int i = 0; i < env.AgentCount; i++)
                {
                    var init = env.Task.Agents[i].InitQpos;
                    var a = new double[PandaSpec.ActionDim];
                    for (int j = 0; j < 7; j++) a[j] = init[j] + (random ? 0.3 * (2 * rng.NextDouble() - 1) : 0);
                    a[7] = random ? 2 * rng.NextDouble() - 1 : 1;
                    actions[i] = a;
                }
                last = env.Step(actions);
                if (last.Info.Unstable) { Console.Error.WriteLine(last.Info.FailureReason); done++; break; }
            }
            double sec = sw.Elapsed.TotalSeconds;
            Console.WriteLine(FormattableString.Invariant($"steps {done}  time {sec:0.###} s  {done / sec:0.#} steps/s  success {last?.Success ?? false}"));
            Console.WriteLine($"state hash {env.StateHash():x16}");
            foreach (var w in last?.Info.Warnings ?? []) Console.Error.WriteLine($"warning: {w}");
        }));
        return cmd;
    }
}
