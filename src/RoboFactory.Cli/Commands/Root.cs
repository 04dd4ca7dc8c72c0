using System.CommandLine;

namespace RoboFactory.Cli.Commands;

/// <summary>The command tree. Each command group lives in its own file and is added here.</summary>
public static class Root
{
    /// <summary>Parses and runs a command line. A command line that does not parse (unknown or missing option, a value
    /// of the wrong type) is a user error like any other: one line per problem and exit code 2.</summary>
    public static int Run(string[] args)
    {
        var result = Build().Parse(args);
        if (result.Errors.Count > 0 && result.Action is System.CommandLine.Invocation.ParseErrorAction)
        {
            // one line per problem: System.CommandLine lists allowed values on indented lines of their own
            foreach (var e in result.Errors)
                Console.Error.WriteLine("error: " + string.Join(' ', e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
            var path = new List<string>();
            for (var c = result.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
                if (c.Parent is not null) path.Insert(0, c.Command.Name);
            Console.Error.WriteLine($"see: robofactory {string.Join(' ', path)}{(path.Count > 0 ? " " : "")}--help");
            return 2;
        }
        return result.Invoke();
    }

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
