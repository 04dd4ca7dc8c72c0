using System.CommandLine;
using RoboFactory.Core.Naming;
using RoboFactory.Recording;
using Spectre.Console;

namespace RoboFactory.Cli.Commands;

/// <summary>`prepare`: record successful expert demonstrations, one ZARR store per agent.</summary>
public static class PrepareCommand
{
    public static Command Build()
    {
        var cmd = new Command("prepare", "Run the task's scripted expert on consecutive seeds and record successful episodes as one ZARR store per agent (data/zarr/{Task}_Agent{i}_{num}.zarr).");
        var task = SimCommands.TaskOption();
        var config = SimCommands.ConfigOption();
        var num = new Option<int>("--num") { Description = "Successful episodes to record", DefaultValueFactory = _ => 150 };
        var workers = new Option<int>("--workers") { Description = "Parallel simulation workers", DefaultValueFactory = _ => Math.Max(1, Environment.ProcessorCount) };
        var seedStart = new Option<int>("--seed-start") { Description = "First seed to try; failed seeds are skipped", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "Output folder (stores go to OUT/zarr/)", DefaultValueFactory = _ => "data" };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run (its .partial stores) without duplicating episodes" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace finished stores of the same name" };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "Give up after this many seeds (default 3*num+20)" };
        var shard = ShardOptions.Shard("of the seeds --seed-start..--seed-start+num−1 (a failed seed is skipped, not replaced), into OUT/zarr/shards/shard{i}of{n}/");
        var shards = ShardOptions.Shards();
        foreach (var o in new Option[] { task, config, num, workers, seedStart, outDir, resume, overwrite, maxAttempts, shard, shards }) cmd.Options.Add(o);
        cmd.Subcommands.Add(BuildMerge());
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(resume) && r.GetValue(overwrite))
                throw new ArgumentException("--resume and --overwrite exclude each other: --resume continues the .partial stores, --overwrite replaces finished ones");
            var options = new PrepareOptions(r.GetValue(task)!, r.GetValue(num), r.GetValue(workers), r.GetValue(seedStart),
                Path.Combine(r.GetValue(outDir)!, DataNames.ZarrFolder), r.GetValue(resume), r.GetValue(overwrite), r.GetValue(maxAttempts), r.GetValue(config),
                ShardOptions.Parse(r, shard, shards));
            // unsharded: successes until --num; a shard: its seeds tried, successful or not
            int total = options.Shard?.Positions(options.Num).Count() ?? options.Num;
            PrepareResult? result = null;
            Progress.Run($"prepare {options.Task}{(options.Shard is null ? "" : $" shard {options.Shard}")}", total, (report, log) =>
            {
                result = DemoRecorder.Run(options,
                    new SyncProgress<PrepareProgress>(p => report(options.Shard is null ? p.Successes : p.Successes + p.Failures, FormattableString.Invariant(
                        $"{p.Successes}/{(options.Shard is null ? p.Target : total)} {(options.Shard is null ? "episodes" : "seeds recorded")}, success rate {(double)p.Successes / Math.Max(1, p.Successes + p.Failures):P0}"))),
                    log);
            });
            var res = result!;
            Console.WriteLine(FormattableString.Invariant(
                $"recorded {res.Successes} episodes ({res.Failures} failed seeds skipped) in {res.Seconds:0.0} s = {60 * res.Successes / res.Seconds:0.0} episodes/min"));
            foreach (var s in res.Stores) Console.WriteLine($"  {s}");
            Console.WriteLine($"  summary: {res.SummaryPath}");
        }));
        return cmd;
    }

    /// <summary>`prepare merge`: the shards' stores combined into one store per agent.</summary>
    private static Command BuildMerge()
    {
        var cmd = new Command("merge", "Combine the stores of `prepare --shard i/n` runs (OUT/zarr/shards/shard*of*/) into one store per agent, OUT/zarr/{Task}_Agent{i}_{recorded}.zarr, byte-identical to an unsharded prepare of the same seeds.");
        var task = SimCommands.TaskOption();
        var config = SimCommands.ConfigOption();
        var outDir = new Option<string>("--out") { Description = "Data folder of the shards (their stores are under OUT/zarr/shards/)", DefaultValueFactory = _ => "data" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace finished merged stores of the same name" };
        foreach (var o in new Option[] { task, config, outDir, overwrite }) cmd.Options.Add(o);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            PrepareResult? res = null;
            Progress.Run($"prepare merge {r.GetValue(task)}", 1, (report, _) =>
                res = DemoRecorder.Merge(r.GetValue(task)!, Path.Combine(r.GetValue(outDir)!, DataNames.ZarrFolder), r.GetValue(overwrite), r.GetValue(config),
                    (done, total) => report((double)done / total, $"{done}/{total} agent episodes")));
            Console.WriteLine($"merged {res!.Successes} episodes ({res.Failures} failed seeds) in {res.Seconds:0.0} s");
            foreach (var s in res.Stores) Console.WriteLine($"  {s}");
            Console.WriteLine($"  summary: {res.SummaryPath}");
        }));
        return cmd;
    }
}

/// <summary>One progress bar with a description, elapsed time and ETA; log lines print above it.</summary>
public static class Progress
{
    /// <summary>
    /// One bar per job, the jobs run at the same time on their own threads (<c>work(i, report, log)</c>); an exception
    /// in any of them is rethrown once all have ended.
    /// </summary>
    public static void RunParallel(IReadOnlyList<string> titles, double total, Action<int, Action<double, string>, Action<string>> work)
    {
        var errors = new Exception?[titles.Count];
        void RunAll(Func<int, (Action<double, string> Report, Action<string> Log, Action Done)> bars)
        {
            var threads = titles.Select((_, i) => new Thread(() =>
            {
                var (report, log, done) = bars(i);
                try { work(i, report, log); done(); }
                catch (Exception e) { errors[i] = e; }
            }) { IsBackground = true }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
        }
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var start = DateTime.UtcNow;
            object gate = new();
            RunAll(i =>
            {
                double lastReported = -1;
                return ((value, text) =>
                {
                    if (value - lastReported < total / 10 && value < total) return;
                    lastReported = value;
                    double sec = (DateTime.UtcNow - start).TotalSeconds;
                    string eta = value > 0 && value < total ? FormattableString.Invariant($", ETA {sec / value * (total - value):0} s") : "";
                    lock (gate) Console.Error.WriteLine(FormattableString.Invariant($"{titles[i]}: {text} ({sec:0} s{eta})"));
                }, line => { lock (gate) Console.Error.WriteLine(line); }, () => { });
            });
        }
        else
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var tasks = titles.Select(t => ctx.AddTask(Markup.Escape(t), maxValue: total)).ToList();
                    RunAll(i => (
                        (value, text) => { tasks[i].Value = value; tasks[i].Description = Markup.Escape($"{titles[i]}: {text}"); },
                        line => AnsiConsole.MarkupLine(Markup.Escape(line)),
                        () => tasks[i].Value = total));
                });
        }
        var failed = errors.Where(e => e is not null).ToList();
        if (failed.Count == 1) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed[0]!).Throw();
        if (failed.Count > 1) throw new AggregateException(failed!);
    }

    public static void Run(string title, double total, Action<Action<double, string>, Action<string>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // plain output for logs and CI: one line per ~10% of progress
            double lastReported = -1;
            var start = DateTime.UtcNow;
            work((value, text) =>
            {
                if (value - lastReported < total / 10 && value < total) return;
                lastReported = value;
                double sec = (DateTime.UtcNow - start).TotalSeconds;
                string eta = value > 0 && value < total ? FormattableString.Invariant($", ETA {sec / value * (total - value):0} s") : "";
                Console.Error.WriteLine(FormattableString.Invariant($"{title}: {text} ({sec:0} s{eta})"));
            }, line => Console.Error.WriteLine(line));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var t = ctx.AddTask(Markup.Escape(title), maxValue: total);
                work((value, text) => { t.Value = value; t.Description = Markup.Escape($"{title}: {text}"); },
                    line => AnsiConsole.MarkupLine(Markup.Escape(line)));
                t.Value = total;
            });
    }
}
