using System.CommandLine;
using System.CommandLine.Invocation;
using RoboFactory.Bench;

namespace RoboFactory.Cli.Commands;

/// <summary>`bench ...`: on-demand benchmarks that report ratios measured side by side in one run.</summary>
public static class BenchCommands
{
    public static Command Build()
    {
        var bench = new Command("bench", "Run benchmarks (speed and memory figures, measured side by side in one run).");
        bench.Subcommands.Add(Sim());
        bench.Subcommands.Add(Prepare());
        bench.Subcommands.Add(Convert());
        bench.Subcommands.Add(EvalBenchCommand());
        bench.Subcommands.Add(ModelCommands.BuildBenchCommand());
        bench.Subcommands.Add(WithTorchComparison(TrainCommands.BuildBench()));
        return bench;
    }

    /// <summary>
    /// `bench train` as TrainCommands builds it, plus --torch: our tiny training step side by side with the same model
    /// in Debian's PyTorch (TrainTorchBench), and --threads for either mode. Without --torch it runs as before.
    /// </summary>
    private static Command WithTorchComparison(Command cmd)
    {
        var original = cmd.Action as SynchronousCommandLineAction ?? throw new InvalidOperationException("bench train has no synchronous action");
        var defaults = new TrainVsTorchOptions();
        var torchOpt = new Option<bool>("--torch") { Description = "Instead: samples/s of our tiny training step vs the same model trained in Debian's PyTorch (python3-torch; scripts/vla/tiny_train_torch.py), same threads, batch, shapes (the quickstart recipe: 84 px, 3 views, state tokens, 4-action chunks) and steps (--steps timed steps per round and side), alternated; prints both, the ratio and per-phase times" };
        var threads = new Option<int?>("--threads") { Description = $"Torch intra-op threads (both sides with --torch; default {defaults.Threads})" };
        var rounds = new Option<int>("--rounds") { Description = "With --torch: alternated rounds of (ours, PyTorch)", DefaultValueFactory = _ => defaults.Rounds };
        var warmup = new Option<int>("--warmup") { Description = "With --torch: untimed steps at the start of each round", DefaultValueFactory = _ => defaults.Warmup };
        var python = new Option<string>("--python") { Description = "With --torch: the interpreter with torch (Debian's python3-torch)", DefaultValueFactory = _ => defaults.Python };
        var steps = cmd.Options.OfType<Option<int>>().Single(o => o.Name == "--steps");
        var batch = cmd.Options.OfType<Option<int>>().Single(o => o.Name == "--batch-size");
        foreach (var o in new Option[] { torchOpt, threads, rounds, warmup, python }) cmd.Options.Add(o);
        cmd.Description += " With --torch: our tiny training step vs the same model in PyTorch, side by side (ratio ours/PyTorch, target >= 1).";
        cmd.SetAction(r =>
        {
            if (r.GetValue(threads) is int t)
            {
                if (t <= 0) { Console.Error.WriteLine("error: --threads must be positive"); return 2; }
                TorchSharp.torch.set_num_threads(t);
            }
            if (!r.GetValue(torchOpt)) return original.Invoke(r);
            return CliErrors.Run(() =>
            {
                var res = TrainTorchBench.Run(defaults with
                {
                    Threads = r.GetValue(threads) ?? defaults.Threads, BatchSize = r.GetValue(batch), Steps = r.GetValue(steps),
                    Rounds = r.GetValue(rounds), Warmup = r.GetValue(warmup), Python = r.GetValue(python)!,
                }, Console.Out);
                Console.WriteLine();
                TrainTorchBench.Print(res, Console.Out);
            });
        });
        return cmd;
    }

    private static Command Sim()
    {
        var cmd = new Command("sim", "Environment steps/s without and with cameras, and our stepping loop vs a plain C loop on the same MJCF.");
        var task = SimCommands.TaskOption();
        task.Required = false;
        task.DefaultValueFactory = _ => "LiftBarrier";
        var steps = new Option<int>("--steps") { Description = "Control steps per timed run (no cameras and C loop)", DefaultValueFactory = _ => 2000 };
        var camSteps = new Option<int>("--camera-steps") { Description = "Control steps per timed run with all cameras", DefaultValueFactory = _ => 100 };
        var repeats = new Option<int>("--repeats") { Description = "Interleaved repeats; medians are reported", DefaultValueFactory = _ => 5 };
        cmd.Options.Add(task); cmd.Options.Add(steps); cmd.Options.Add(camSteps); cmd.Options.Add(repeats);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var res = SimBench.Run(r.GetValue(task)!, r.GetValue(steps), r.GetValue(camSteps), r.GetValue(repeats), Console.Out);
            Console.WriteLine();
            foreach (var t in new[] { res.NoCameras, res.WithCameras, res.CLoop, res.OursVsC }) Console.WriteLine(t);
        }));
        return cmd;
    }

    private static Command Prepare()
    {
        var cmd = new Command("prepare", "Expert episodes/min with 1 and 2 workers, and ZARR write/read MB/s against zarr-python on the same arrays.");
        var task = new Option<string>("--task") { Description = "Task to record", DefaultValueFactory = _ => "LiftBarrier" };
        var episodes = new Option<int>("--episodes") { Description = "Episodes per recording run", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Interleaved repeats; medians are reported", DefaultValueFactory = _ => 3 };
        cmd.Options.Add(task); cmd.Options.Add(episodes); cmd.Options.Add(repeats);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var (one, two) = PrepareBench.EpisodesPerMinute(r.GetValue(task)!, r.GetValue(episodes), r.GetValue(repeats), Console.Out);
            var io = DataBench.Prepare(new DataBench.PrepareOptions { Repeats = r.GetValue(repeats) }, Console.Out);
            Console.WriteLine();
            foreach (var t in new[] { one, two, io.OursWrite, io.PythonWrite, io.OursRead, io.PythonRead }) Console.WriteLine(t);
            Console.WriteLine(FormattableString.Invariant($"{"2 workers / 1 worker",-44} {two.Median / one.Median:0.00} x"));
            Console.WriteLine(FormattableString.Invariant($"{"ZARR ours / zarr-python (target >= 2)",-44} write {io.WriteRatio:0.00} x, read {io.ReadRatio:0.00} x"));
        }));
        return cmd;
    }

    private static Command Convert()
    {
        var cmd = new Command("convert", "ZARR->RLDS and ZARR->LeRobot conversion MB/s, and samples/s reading each through the dataset interface (3 views: PNG or H.264 decode + resize to 224).");
        var zarr = new Option<string?>("--zarr") { Description = "Store to convert (default: a synthetic 240x320 recording)" };
        var repeats = new Option<int>("--repeats") { Description = "Repeats; medians are reported", DefaultValueFactory = _ => 2 };
        cmd.Options.Add(zarr); cmd.Options.Add(repeats);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var res = DataBench.Convert(new DataBench.ConvertOptions { ZarrPath = r.GetValue(zarr), Repeats = r.GetValue(repeats) }, Console.Out);
            Console.WriteLine();
            foreach (var t in res.Timings) Console.WriteLine(t);
        }));
        return cmd;
    }

    private static Command EvalBenchCommand()
    {
        var cmd = new Command("eval", "Closed-loop policy steps/s and episodes/hour: the scripted expert, and OpenVLA agents when --checkpoints is given.");
        var task = new Option<string>("--task") { Description = "Task", DefaultValueFactory = _ => "LiftBarrier" };
        var episodes = new Option<int>("--episodes") { Description = "Episodes per run", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Repeats; medians are reported", DefaultValueFactory = _ => 3 };
        var checkpoints = new Option<string?>("--checkpoints") { Description = "Folder with {Task}_Agent{i} OpenVLA checkpoints (e.g. runs/quickstart/checkpoints)" };
        var steps = new Option<int>("--policy-steps") { Description = "Control steps per OpenVLA episode", DefaultValueFactory = _ => 40 };
        var compare = new Option<bool>("--compare-policies") { Description = "Instead: openvla (token decoding) vs openvla-oft (one parallel pass per chunk) for the same tiny agents, 3 views, same seeds: env steps/s, policy seconds per env step and their ratio" };
        var imageSize = new Option<int>("--image-size") { Description = "--compare-policies: vision input of the tiny agents", DefaultValueFactory = _ => 84 };
        foreach (var o in new Option[] { task, episodes, repeats, checkpoints, steps, compare, imageSize }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(compare))
            {
                var timings = PolicySpeedBench.Run(r.GetValue(task)!, r.GetValue(episodes), r.GetValue(steps), r.GetValue(repeats), r.GetValue(imageSize), Console.Out);
                Console.WriteLine();
                PolicySpeedBench.Print(timings, Console.Out);
                return;
            }
            var res = EvalBench.Run(r.GetValue(task)!, r.GetValue(episodes), r.GetValue(repeats), r.GetValue(checkpoints), r.GetValue(steps), Console.Out);
            Console.WriteLine();
            foreach (var t in new[] { res.ExpertStepsPerSecond, res.ExpertEpisodesPerHour, res.PolicyStepsPerSecond, res.PolicyEpisodesPerHour })
                if (t is not null) Console.WriteLine(t);
        }));
        return cmd;
    }
}
