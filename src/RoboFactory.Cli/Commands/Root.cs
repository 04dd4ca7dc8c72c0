using System.CommandLine;

namespace RoboFactory.Cli.Commands;

/// <summary>The command tree. Each command group lives in its own file and is added here.</summary>
public static class Root
{
    public static RootCommand Build()
    {
        var root = new RootCommand("RoboFactory.NET: multi-arm robot learning with OpenVLA, end to end (simulate, demonstrate, convert, train, evaluate).");
        root.Subcommands.Add(QuickstartCommand.Build());
        root.Subcommands.Add(SimCommands.Build());
        root.Subcommands.Add(PrepareCommand.Build());
        root.Subcommands.Add(ConvertCommand.Build());
        root.Subcommands.Add(EvalCommand.Build());
        root.Subcommands.Add(BenchCommands.Build());
        root.Subcommands.Add(ModelCommands.Build());
        root.Subcommands.Add(TrainCommands.BuildTrain());
        root.Subcommands.Add(TrainCommands.BuildMerge());
        root.Subcommands.Add(TrainCommands.BuildPlot());
        return root;
    }
}
