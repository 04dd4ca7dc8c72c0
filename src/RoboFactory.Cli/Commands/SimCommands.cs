using System.CommandLine;

namespace RoboFactory.Cli.Commands;

public static class SimCommands
{
    public static Command Build()
    {
        var sim = new Command("sim", "Inspect, render and roll out the simulated tasks.");
        var info = new Command("info", "Print agents, cameras and action/observation spaces of a task.");
        var task = new Option<string>("--task") { Description = "Task name, e.g. LiftBarrier", Required = true };
        info.Options.Add(task);
        info.SetAction(r => { Console.WriteLine(r.GetValue(task)); return 0; });
        sim.Subcommands.Add(info);
        return sim;
    }
}
