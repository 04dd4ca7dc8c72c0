using System.CommandLine;
using RoboFactory.Core.Naming;
using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Data.Zarr;
using RoboFactory.Eval;
using RoboFactory.Vla.Policies;
using Spectre.Console;

namespace RoboFactory.Cli.Commands;

/// <summary>`eval`: closed-loop multi-agent evaluation over fixed seeds, with results.json, a summary table and videos.</summary>
public static class EvalCommand
{
    public static Command Build()
    {
        var cmd = new Command("eval", "Evaluate a policy in closed loop: all agents act together, each from its own policy, over fixed seeds. Writes eval_results/{policy}/{task}/{run}/results.json and videos.");
        var learned = string.Join("; ", PolicyRegistry.All.Select(e => $"{e.Name}: {e.Description}"));
        var policy = new Option<string>("--policy") { Description = $"expert: scripted experts; replay: recorded demo actions; auto: the trained policy named in the checkpoints' policy.json; {learned}", Required = true };
        policy.AcceptOnlyFromAmong(["expert", "replay", "auto", .. PolicyRegistry.Names]);
        var task = SimCommands.TaskOption();
        var config = SimCommands.ConfigOption();
        var checkpoints = new Option<string?>("--checkpoints") { Description = "trained policies: folder with one {Task}_Agent{i} checkpoint folder per agent (default checkpoints/{policy}; auto: checkpoints/openvla)" };
        var episodes = new Option<int>("--episodes") { Description = "Number of episodes (consecutive seeds)", DefaultValueFactory = _ => 100 };
        var seedStart = new Option<int>("--seed-start") { Description = "First seed (held-out seeds start at 1000; demos use 0..)", DefaultValueFactory = _ => 1000 };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Control steps per episode (default: the task's max_episode_steps; upstream protocol: --policy-calls × executed steps)" };
        var protocol = new Option<string>("--protocol")
        {
            Description = "robofactory-net: stop at the task's max_episode_steps, success at any step (ManiSkill's rule) | upstream: RoboFactory's DP eval (eval_multi_dp.py): --policy-calls calls of one chunk each (the policy's --execute-steps, else 6), no max_episode_steps cap, success read only at chunk ends",
            DefaultValueFactory = _ => "robofactory-net",
        };
        protocol.AcceptOnlyFromAmong([.. EvalProtocols.Names]);
        var policyCalls = new Option<int?>("--policy-calls") { Description = $"--protocol upstream: policy calls per episode [default: {EvalProtocols.UpstreamPolicyCalls}]" };
        var workers = new Option<int>("--workers") { Description = "Parallel episodes", DefaultValueFactory = _ => 1 };
        var video = new Option<int>("--video") { Description = "Record MP4 videos of the first N episodes", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "Results root", DefaultValueFactory = _ => RunNames.DefaultEvalRoot };
        var run = new Option<string?>("--run") { Description = "Run name (default: a timestamp)" };
        var device = new Option<string>("--device") { Description = "openvla: cpu or cuda (a CUDA build needs -p:TorchBackend=cuda)", DefaultValueFactory = _ => "cpu" };
        var decoding = new Option<string>("--decoding")
        {
            Description = "openvla: how action tokens are read: greedy (argmax over the whole vocabulary, as upstream) | action-greedy (argmax over the 256 action tokens) | expected (probability-weighted mean of the bin centres)",
            DefaultValueFactory = _ => "greedy",
        };
        decoding.AcceptOnlyFromAmong("greedy", "action-greedy", "expected");
        var execute = new Option<int?>("--execute-steps") { Description = "Trained policies: actions executed from each predicted chunk before asking again (default: the whole chunk; RoboFactory's Diffusion Policy executes 6 of 8)" };
        var data = new Option<string>("--data") { Description = "replay: data folder holding zarr/{Task}_Agent{i}_{num}.zarr", DefaultValueFactory = _ => "data" };
        var shard = ShardOptions.Shard("writing results_shardIofN.json into the run folder (give every shard the same --run)");
        var shards = ShardOptions.Shards();
        foreach (var o in new Option[] { policy, task, config, checkpoints, device, decoding, episodes, seedStart, maxSteps, protocol, policyCalls, workers, video, outDir, run, data, execute, shard, shards }) cmd.Options.Add(o);
        cmd.Subcommands.Add(BuildMerge());
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            string taskName = r.GetValue(task)!;
            var options = new EvalOptions(taskName, r.GetValue(episodes), r.GetValue(seedStart), r.GetValue(maxSteps), r.GetValue(workers),
                r.GetValue(video), r.GetValue(outDir)!, r.GetValue(run), r.GetValue(config), Shard: ShardOptions.Parse(r, shard, shards),
                Protocol: EvalProtocols.Parse(r.GetValue(protocol)!), PolicyCalls: r.GetValue(policyCalls));
            int total = options.Shard?.Positions(options.Episodes).Count() ?? options.Episodes;
            Func<EvalPolicy> create = r.GetValue(policy) switch
            {
                "expert" => () => new ExpertPolicy(taskName),
                "replay" => ReplayFactory(taskName, r.GetValue(data)!, r.GetValue(config)),
                string name => LearnedFactory(name == "auto" ? null : name, taskName,
                    r.GetValue(checkpoints) ?? RunNames.CheckpointRoot(name == "auto" ? PolicyRegistry.DefaultName : name), r.GetValue(device)!, r.GetValue(decoding)!, r.GetValue(config), r.GetValue(execute)),
                null => throw new ArgumentException("--policy is required"),
            };
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("interrupted: finishing and writing partial results…"); };
            Console.CancelKeyPress += onCancel;
            EvalReport? report = null;
            int finished = 0, successes = 0;
            try
            {
                Progress.Run($"eval {r.GetValue(policy)} {taskName}{(options.Shard is null ? "" : $" shard {options.Shard}")}", total, (report_, log) =>
                {
                    report = Evaluator.Run(options, create, new SyncProgress<EpisodeResult>(e =>
                    {
                        int f = Interlocked.Increment(ref finished);
                        int s = e.Success ? Interlocked.Increment(ref successes) : Volatile.Read(ref successes);
                        report_(f, FormattableString.Invariant($"{f}/{total} episodes, success {s}/{f}"));
                    }), log, cts.Token);
                });
            }
            finally { Console.CancelKeyPress -= onCancel; }
            Print(report!);
        }));
        return cmd;
    }

    /// <summary>`eval merge`: one results.json from the shards' results files.</summary>
    private static Command BuildMerge()
    {
        var cmd = new Command("merge", "Combine the results of `eval --shard i/n` runs into one results.json (equal to an unsharded run's, timings aside). Refuses shards of different evaluations, missing or repeated shards, and missing or duplicated seeds.");
        var inputs = new Argument<string[]>("shards") { Description = "Run folders holding results_shardIofN.json files, or the files themselves", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<string?>("--out") { Description = "Folder for the merged results.json (default: the first shard's folder)" };
        cmd.Arguments.Add(inputs); cmd.Options.Add(outDir);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var files = new List<string>();
            foreach (var p in r.GetValue(inputs)!)
            {
                if (Directory.Exists(p))
                {
                    var found = Directory.GetFiles(p, "results_shard*of*.json").Order().ToList();
                    if (found.Count == 0) throw new FileNotFoundException($"eval merge: {p} holds no results_shardIofN.json file");
                    files.AddRange(found);
                }
                else files.Add(p);
            }
            var (path, s) = Evaluator.Merge(files, r.GetValue(outDir));
            Console.WriteLine(FormattableString.Invariant($"merged {files.Count} shard(s): {s.Successes}/{s.Episodes} = {s.SuccessRate:P1} (95% Wilson [{s.WilsonLow:P1}, {s.WilsonHigh:P1}]), mean steps {s.MeanSteps:0.0}{(s.Interrupted ? " (partial)" : "")}"));
            Console.WriteLine($"results: {path}");
        }));
        return cmd;
    }

    private static Func<EvalPolicy> LearnedFactory(string? policy, string task, string root, string device, string decoding, string? configFile, int? executeSteps)
    {
        var (cfg, _) = TaskRegistry.Load(task, configFile);
        var dirs = LearnedPolicy.CheckpointDirs(root, cfg, policy ?? PolicyRegistry.DefaultName); // missing checkpoints are refused before anything is loaded
        var options = new PolicyLoadOptions(device, Vla.Tokenization.ActionDecoder.Parse(decoding), executeSteps);
        string name = policy ?? LearnedPolicy.PolicyOf(dirs);
        return () => LearnedPolicy.Load(dirs, name, options);
    }

    private static Func<EvalPolicy> ReplayFactory(string task, string dataRoot, string? configFile)
    {
        var (cfg, _) = TaskRegistry.Load(task, configFile);
        var stores = Enumerable.Range(0, cfg.Agents.Count).Select(i => ConvertCommand.FindStore(Path.Combine(dataRoot, DataNames.ZarrFolder), cfg.Name, i)).ToList();
        return () => new ReplayPolicy(stores.Select(s => new ReplayAgentPolicy(s)).ToList());
    }

    public static void Print(EvalReport report)
    {
        var s = report.Summary;
        var table = new Table().AddColumns("episodes", "successes", "success rate", "95% Wilson interval", "mean steps", "clipped actions");
        table.AddRow(new[] { s.Episodes.ToString(), s.Successes.ToString(), FormattableString.Invariant($"{s.SuccessRate:P1}"),
            FormattableString.Invariant($"[{s.WilsonLow:P1}, {s.WilsonHigh:P1}]"), FormattableString.Invariant($"{s.MeanSteps:0.0}"),
            report.Results.Sum(e => e.ClippedActions).ToString() }.Select(c => new Text(c)));
        AnsiConsole.Write(table);
        if (s.Interrupted) Console.WriteLine("(interrupted: partial results)");
        Console.WriteLine($"results: {report.ResultsPath}");
        var videos = report.Results.Where(e => e.Video is not null).Select(e => Path.Combine(report.Directory, e.Video!)).ToList();
        if (videos.Count > 0) Console.WriteLine($"videos:  {string.Join(", ", videos)}");
    }
}
