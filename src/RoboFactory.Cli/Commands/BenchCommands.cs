using System.CommandLine;
using RoboFactory.Bench;

namespace RoboFactory.Cli.Commands;

/// <summary>`bench ...`: on-demand benchmarks that report ratios measured side by side in one run.</summary>
public static class BenchCommands
{
    public static Command Build()
    {
        var bench = new Command("bench", "Run benchmarks (speed and memory figures, measured side by side in one run).");
        bench.Subcommands.Add(Sim());
        return bench;
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
}
