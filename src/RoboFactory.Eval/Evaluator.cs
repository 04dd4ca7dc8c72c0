using RoboFactory.Core.Sharding;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Core.Naming;
using RoboFactory.Planning;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Tasks;
using RoboFactory.Vla.Training;
using RoboFactory.Core.Errors;

namespace RoboFactory.Eval;

/// <param name="Episodes">number of seeds, from SeedStart on</param>
/// <param name="MaxSteps">control steps per episode (default: the task's max_episode_steps)</param>
/// <param name="Videos">record MP4s of the first N episodes</param>
/// <param name="OutRoot">results go to OutRoot/{policy}/{task}/{run}/</param>
/// <param name="Protocol">when an episode ends and when success is read (see <see cref="EvalProtocols.Limits"/>)</param>
/// <param name="PolicyCalls">upstream protocol: policy calls per episode (default 250)</param>
public sealed record EvalOptions(
    string Task, int Episodes = 100, int SeedStart = 1000, int? MaxSteps = null, int Workers = 1, int Videos = 0,
    string OutRoot = RunNames.DefaultEvalRoot, string? Run = null, string? ConfigFile = null, int VideoFps = 20, Shard? Shard = null,
    EvalProtocol Protocol = EvalProtocol.RoboFactoryNet, int? PolicyCalls = null);

/// <summary>One evaluated episode as written to results.json.</summary>
/// <param name="Evaluation">the task's sub-conditions at success, else at the last step (null when no step was taken)</param>
public sealed record EpisodeResult(int Seed, bool Success, int Steps, double WallSeconds, string? FailureReason, int ClippedActions, string? Video,
    TaskEvaluation? Evaluation = null, int PolicyCalls = 0, double PolicySeconds = 0);

public sealed record EvalSummary(int Episodes, int Successes, double SuccessRate, double WilsonLow, double WilsonHigh, double MeanSteps, bool Interrupted);

public sealed record EvalReport(string Directory, string ResultsPath, IReadOnlyList<EpisodeResult> Results, EvalSummary Summary);

/// <summary>
/// Closed-loop evaluation over fixed seeds: every agent acts from its own policy, all step in lock-step; results per seed,
/// a success rate with its 95% Wilson interval, and videos. Episodes are independent and deterministic, so the same seeds
/// give the same results whatever the number of workers.
/// </summary>
public static class Evaluator
{
    public static EvalReport Run(EvalOptions o, Func<EvalPolicy> createPolicy, IProgress<EpisodeResult>? progress = null,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        if (o.Episodes <= 0) throw new ArgumentException($"--episodes must be positive, got {o.Episodes}");
        if (o.Workers <= 0) throw new ArgumentException($"--workers must be positive, got {o.Workers}");
        var (config, _) = TaskRegistry.Load(o.Task, o.ConfigFile);
        EvalProtocols.Limits(o.Protocol, config, o.MaxSteps, o.PolicyCalls, null); // flags checked before any policy is loaded
        // positions in the seed list: all, or this shard's (k ≡ i mod n); videos go to the first --video positions of the whole list
        var positions = (o.Shard?.Positions(o.Episodes) ?? Enumerable.Range(0, o.Episodes)).ToList();
        if (positions.Count == 0) throw new ArgumentException($"--shard {o.Shard}: {o.Episodes} episode(s) leave no seed for this shard");
        var seeds = positions.Select(k => o.SeedStart + k).ToList();

        // one policy + environment per worker; validated before anything is simulated
        var policies = new List<EvalPolicy>();
        var envs = new List<MultiAgentEnv>();
        try
        {
            for (int w = 0; w < Math.Min(o.Workers, seeds.Count); w++)
            {
                var policy = createPolicy();
                policies.Add(policy);
                var env = new MultiAgentEnv(config, TaskRegistry.CreateLogic(config),
                    new EnvOptions(RenderObservations: policy.NeedsImages || o.Videos > 0));
                envs.Add(env);
                if (w == 0) policy.Validate(env, seeds);
            }
            var limits = EvalProtocols.Limits(o.Protocol, config, o.MaxSteps, o.PolicyCalls, policies[0].ExecuteSteps);
            int maxSteps = limits.MaxSteps;
            string policyName = policies[0].Name;
            string run = o.Run ?? RunNames.EvalRunStamp(DateTime.Now);
            string dir = RunNames.EvalRun(o.OutRoot, policyName, config.Name, run);
            Directory.CreateDirectory(dir);

            var results = new EpisodeResult?[seeds.Count];
            int next = -1;
            bool interrupted = false;
            // learned policies on several workers: split the cores between them (see TorchThreads)
            bool splitThreads = envs.Count > 1 && policies[0] is LearnedPolicy;
            int mainThreads = splitThreads ? TorchThreads.Get() : 0;
            void Worker(int w)
            {
                if (splitThreads) TorchThreads.Set(TorchThreads.PerWorker(envs.Count));
                var env = envs[w];
                var policy = policies[w];
                int k;
                while (!cancel.IsCancellationRequested && (k = Interlocked.Increment(ref next)) < seeds.Count)
                {
                    int seed = seeds[k];
                    VideoWriter? video = positions[k] < o.Videos ? new VideoWriter(Path.Combine(dir, $"seed_{seed}.mp4"), VideoFrames.Size(env), o.VideoFps) : null;
                    var sw = Stopwatch.StartNew();
                    EpisodeRun r;
                    // the conditions that decided the episode: those of the first successful step, else of the last step
                    TaskEvaluation? evaluation = null;
                    try
                    {
                        bool first = true;
                        StepCallback onStep = (before, _, result) =>
                        {
                            if (!(evaluation?.Success ?? false)) evaluation = result.Info.Evaluation ?? evaluation;
                            if (video is null) return;
                            if (first) { video.Write(VideoFrames.Compose(env, before)); first = false; }
                            video.Write(VideoFrames.Compose(env, result.Observation));
                        };
                        r = policy.Run(env, seed, limits, onStep, cancel);
                    }
                    catch (OperationCanceledException) { video?.Dispose(); break; }
                    catch (ExpertAbortedException e) { r = new EpisodeRun(seed, false, env.ElapsedSteps, e.Message, 0); }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // a failing policy (or native library) ends this episode, not the run
                        r = new EpisodeRun(seed, false, env.ElapsedSteps, $"policy error: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}", 0);
                        log?.Invoke($"seed {seed}: policy error at step {env.ElapsedSteps}, managed stack:\n{e.StackTrace}");
                    }
                    finally { video?.Finish(); }
                    var res = new EpisodeResult(seed, r.Success, r.Steps, Math.Round(sw.Elapsed.TotalSeconds, 3), FailureReason(r, evaluation),
                        r.ClippedActions, video is null ? null : Path.GetFileName(video.Path), evaluation, r.PolicyCalls, r.PolicySeconds);
                    results[k] = res;
                    progress?.Report(res);
                    if (!r.Success) log?.Invoke($"seed {seed}: failed after {r.Steps} steps: {res.FailureReason}");
                }
            }
            var threads = Enumerable.Range(0, envs.Count).Select(w => new Thread(() => Worker(w)) { IsBackground = true }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            if (splitThreads) TorchThreads.Set(mainThreads);
            interrupted = cancel.IsCancellationRequested;

            var done = results.Where(r => r is not null).Select(r => r!).ToList();
            var summary = Summarise(done, interrupted);
            string path = Path.Combine(dir, o.Shard is null ? ResultsFile : ShardResultsFile(o.Shard));
            var header = new JsonObject
            {
                ["task"] = config.Name, ["env_id"] = config.EnvId, ["policy"] = policyName, ["run"] = run,
                ["seed_start"] = o.SeedStart, ["episodes_requested"] = o.Episodes, ["max_steps"] = maxSteps,
                ["protocol"] = EvalProtocols.Name(o.Protocol), ["success_every"] = limits.SuccessEvery,
            };
            if (o.Shard is not null) header[ShardKey] = o.Shard.ToString();
            WriteResults(path, header, done.OrderBy(r => r.Seed).Select(EpisodeJson), summary);
            return new EvalReport(dir, path, done, summary);
        }
        finally
        {
            foreach (var p in policies) p.Dispose();
            foreach (var e in envs) e.Dispose();
        }
    }

    /// <summary>The policy's reason, followed by the task conditions that did not hold ("…; unmet: barrier_lifted").</summary>
    private static string? FailureReason(EpisodeRun r, TaskEvaluation? evaluation)
    {
        if (r.Success) return r.FailureReason;
        var unmet = evaluation?.Unmet.ToList() ?? [];
        if (unmet.Count == 0) return r.FailureReason;
        string conditions = $"unmet: {string.Join(", ", unmet)}";
        return r.FailureReason is null ? conditions : $"{r.FailureReason}; {conditions}";
    }

    public static EvalSummary Summarise(IReadOnlyList<EpisodeResult> results, bool interrupted)
    {
        int n = results.Count, s = results.Count(r => r.Success);
        var (lo, hi) = Wilson(s, n);
        return new EvalSummary(n, s, n == 0 ? 0 : (double)s / n, lo, hi, n == 0 ? 0 : results.Average(r => r.Steps), interrupted);
    }

    /// <summary>95% Wilson score interval for a binomial proportion.</summary>
    public static (double Low, double High) Wilson(int successes, int n, double z = 1.959963984540054)
    {
        if (n == 0) return (0, 1);
        double p = (double)successes / n, z2 = z * z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    public const string ResultsFile = "results.json";
    const string ShardKey = "shard";

    /// <summary>The results file of one shard, next to the others in the run folder: results_shard2of8.json.</summary>
    public static string ShardResultsFile(Shard shard) => $"results_{shard.Tag}.json";

    private static JsonNode EpisodeJson(EpisodeResult r) => new JsonObject
    {
        ["seed"] = r.Seed, ["success"] = r.Success, ["steps"] = r.Steps, ["wall_time_s"] = r.WallSeconds,
        ["failure_reason"] = r.FailureReason, ["clipped_actions"] = r.ClippedActions, ["video"] = r.Video,
        ["conditions"] = Conditions(r.Evaluation),
        ["policy_calls"] = r.PolicyCalls, ["policy_seconds"] = r.PolicySeconds,
    };

    /// <summary>The fields of an episode that the summary needs, read back from results.json.</summary>
    private static EpisodeResult SummaryFields(JsonNode e) => new(
        e["seed"]!.GetValue<int>(), e["success"]!.GetValue<bool>(), e["steps"]!.GetValue<int>(), 0, null,
        e["clipped_actions"]?.GetValue<int>() ?? 0, null);

    /// <summary>results.json: <paramref name="header"/>'s fields, the summary, then the episodes in seed order.</summary>
    private static void WriteResults(string path, JsonObject header, IEnumerable<JsonNode> episodes, EvalSummary s)
    {
        var list = episodes.ToList();
        var json = new JsonObject();
        foreach (var (k, v) in header) json[k] = v?.DeepClone();
        json["summary"] = new JsonObject
        {
            ["episodes"] = s.Episodes, ["successes"] = s.Successes, ["success_rate"] = Math.Round(s.SuccessRate, 4),
            ["wilson95"] = new JsonArray(Math.Round(s.WilsonLow, 4), Math.Round(s.WilsonHigh, 4)),
            ["mean_steps"] = Math.Round(s.MeanSteps, 2), ["interrupted"] = s.Interrupted,
            ["clipped_actions"] = list.Sum(e => e["clipped_actions"]?.GetValue<int>() ?? 0),
        };
        json["episodes"] = new JsonArray(list.ToArray());
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// `eval merge`: combines the shards' results files (results_shardIofN.json, from `eval --shard i/n`) into one
    /// results.json equal to an unsharded run's, timings aside. Refuses shards of different evaluations (task,
    /// policy, seeds, step limit, shard count), a missing or repeated shard, and missing or duplicated seeds.
    /// </summary>
    /// <param name="files">the shards' files; their folders may differ (shards copied from several machines)</param>
    /// <param name="outDir">where results.json goes (default: the first shard's folder)</param>
    public static (string Path, EvalSummary Summary) Merge(IReadOnlyList<string> files, string? outDir = null)
    {
        if (files.Count == 0) throw new ArgumentException("eval merge: no shard results given");
        var shards = new List<(string File, JsonObject Json, Shard Shard)>();
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"eval merge: {f} does not exist");
            JsonObject json;
            try { json = JsonInput.ParseNode(File.ReadAllText(f)) as JsonObject ?? throw new InputFormatException($"{f}: not a JSON object"); }
            catch (JsonException e) { throw new InputFormatException($"{f}: not valid JSON ({e.Message})"); }
            if (json[ShardKey]?.GetValue<string>() is not string tag)
                throw new InputFormatException($"{f}: field '{ShardKey}' is missing: not the results of `eval --shard i/n`");
            shards.Add((f, json, Shard.Parse(tag) ?? throw new InputFormatException($"{f}: field '{ShardKey}' is empty")));
        }
        var first = shards[0];
        string[] same = ["task", "env_id", "policy", "seed_start", "episodes_requested", "max_steps", "protocol", "success_every"];
        foreach (var (f, json, shard) in shards.Skip(1))
        {
            foreach (var key in same)
                if (!JsonNode.DeepEquals(json[key], first.Json[key]))
                    throw new InputFormatException($"eval merge: {f} has {key} = {json[key]?.ToJsonString() ?? "null"}, {first.File} has {first.Json[key]?.ToJsonString() ?? "null"}: shards of different evaluations");
        }
        int n = Shard.CheckCompleteSet(shards.Select(s => (s.File, s.Shard)).ToList(), "eval merge");

        int seedStart = first.Json["seed_start"]!.GetValue<int>(), episodes = first.Json["episodes_requested"]!.GetValue<int>();
        var bySeed = new SortedDictionary<int, JsonNode>();
        var duplicated = new List<string>();
        bool interrupted = false;
        foreach (var (f, json, shard) in shards)
        {
            interrupted |= json["summary"]?["interrupted"]?.GetValue<bool>() ?? false;
            foreach (var node in json["episodes"]?.AsArray() ?? throw new InputFormatException($"{f}: field 'episodes' is missing"))
            {
                var e = node ?? throw new InputFormatException($"{f}: an episode is null");
                int seed = e["seed"]?.GetValue<int>() ?? throw new InputFormatException($"{f}: an episode has no 'seed'");
                if (!shard.Holds(seed - seedStart)) throw new InputFormatException($"{f}: seed {seed} does not belong to shard {shard} (seeds {seedStart}+k, k ≡ {shard.Index} mod {n})");
                if (!bySeed.TryAdd(seed, e.DeepClone())) duplicated.Add($"{seed}");
            }
        }
        if (duplicated.Count > 0) throw new InputFormatException($"eval merge: seed(s) {string.Join(", ", duplicated)} appear twice");
        var missing = Enumerable.Range(seedStart, episodes).Where(s => !bySeed.ContainsKey(s)).ToList();
        if (missing.Count > 0 && !interrupted)
            throw new InputFormatException($"eval merge: {missing.Count} seed(s) missing ({string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", …" : "")})");

        var header = new JsonObject();
        foreach (var (k, v) in first.Json)
            if (k is not (ShardKey or "summary" or "episodes")) header[k] = v?.DeepClone();
        var summary = Summarise(bySeed.Values.Select(SummaryFields).ToList(), interrupted || missing.Count > 0);
        string dir = outDir ?? Path.GetDirectoryName(Path.GetFullPath(first.File))!;
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, ResultsFile);
        WriteResults(path, header, bySeed.Values, summary);
        return (path, summary);
    }

    /// <summary>{"barrier_lifted": false, ...} in the task's order, or null.</summary>
    private static JsonObject? Conditions(TaskEvaluation? evaluation)
    {
        if (evaluation is null) return null;
        var json = new JsonObject();
        foreach (var c in evaluation.Conditions) json[c.Name] = c.Met;
        return json;
    }
}
