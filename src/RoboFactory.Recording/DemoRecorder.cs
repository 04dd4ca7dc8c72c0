using RoboFactory.Core.Naming;
using RoboFactory.Core.Sharding;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Imaging;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;
using RoboFactory.Planning;
using RoboFactory.Sim.Env;
using RoboFactory.Core.Errors;

namespace RoboFactory.Recording;

/// <param name="Task">task name (e.g. LiftBarrier)</param>
/// <param name="Num">successful episodes wanted</param>
/// <param name="Workers">parallel simulation workers (each owns an environment and a renderer)</param>
/// <param name="SeedStart">first seed tried; seeds are tried in order, failures are skipped</param>
/// <param name="OutRoot">folder that receives {task}_Agent{i}_{num}.zarr</param>
/// <param name="Resume">continue an interrupted run from its ".partial" stores</param>
/// <param name="Overwrite">replace finished stores of the same name</param>
/// <param name="MaxAttempts">give up after this many seeds (default 3·num + 20)</param>
/// <param name="Shard">record only part i of n of the seeds SeedStart..SeedStart+Num−1 (a failed seed is then
/// skipped, not replaced), into OutRoot/shards/shard{i}of{n}/; <see cref="DemoRecorder.Merge"/> combines the parts</param>
public sealed record PrepareOptions(
    string Task, int Num, int Workers = 1, int SeedStart = 0, string OutRoot = DataNames.DefaultZarrRoot,
    bool Resume = false, bool Overwrite = false, int? MaxAttempts = null, string? ConfigFile = null, Shard? Shard = null);

/// <summary>Reports synchronously on the caller's thread (System.Progress posts to the thread pool and can reorder).</summary>
public sealed class SyncProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}

/// <summary>Progress after each finished attempt.</summary>
public sealed record PrepareProgress(int Successes, int Failures, int Target, ExpertOutcome? Last);

public sealed record PrepareResult(IReadOnlyList<string> Stores, int Successes, int Failures, IReadOnlyList<ExpertOutcome> FailedEpisodes,
    double Seconds, string SummaryPath);

/// <summary>
/// `prepare`: runs the task's scripted expert on seeds SeedStart, SeedStart+1, … in parallel workers and records
/// the successful episodes, one ZARR store per agent. Episodes are committed in seed order whatever the worker
/// scheduling, so the same options always give byte-identical stores.
/// </summary>
public static class DemoRecorder
{
    /// <summary>One agent's frames of one episode, in store layout: images (T,3,H,W), action/state (T,8), tcp_pose (T,7).</summary>
    private sealed class AgentFrames
    {
        public readonly List<byte[]> Head = [], Wrist = [], Global = [];
        public readonly List<float[]> Action = [], State = [], Tcp = [];
    }

    private sealed record Attempt(ExpertOutcome Outcome, AgentFrames[]? Frames);

    public static PrepareResult Run(PrepareOptions o, IProgress<PrepareProgress>? progress = null, Action<string>? log = null, CancellationToken cancel = default)
    {
        if (o.Num <= 0) throw new ArgumentException($"--num must be positive, got {o.Num}");
        if (o.Workers <= 0) throw new ArgumentException($"--workers must be positive, got {o.Workers}");
        var (config, _) = TaskRegistry.Load(o.Task, o.ConfigFile);
        var expert = TaskRegistry.CreateExpert(config.Name);
        var shape = StoreShape(config);
        string outRoot = o.Shard is null ? o.OutRoot : ShardRoot(o.OutRoot, o.Shard);
        Directory.CreateDirectory(outRoot);

        var writers = new ZarrEpisodeWriter[config.Agents.Count];
        ZarrEpisodeWriter OpenAgent(int i)
        {
            string path = RoboFactoryZarrLayout.StorePath(outRoot, config.Name, i, o.Num);
            if (ZarrEpisodeWriter.IsComplete(path) && !o.Overwrite)
                throw new ArgumentException($"{path} already exists (finished); pass --overwrite to replace it");
            return RoboFactoryZarrLayout.OpenWriter(path, shape,
                new ZarrEpisodeWriterOptions { Resume = o.Resume, Overwrite = o.Overwrite, Attributes = AgentAttributes(config, i), Threads = 1 });
        }
        for (int i = 0; i < writers.Length; i++) writers[i] = OpenAgent(i);
        int committed = writers.Min(w => w.EpisodeCount);
        // A kill between the agents' commits of one episode leaves some stores one episode ahead: roll those back to
        // the episodes every store holds (the dropped episode is recorded again, identically).
        for (int i = 0; i < writers.Length; i++)
            if (writers[i].EpisodeCount > committed)
            {
                log?.Invoke($"resuming: {writers[i].WorkingPath} holds {writers[i].EpisodeCount} episodes, the other agents' stores {committed}; rolling it back to {committed}");
                ZarrEpisodeWriter.RollBack(writers[i].FinalPath, committed);
                writers[i] = OpenAgent(i);
            }
        var seeds0 = writers[0].EpisodeSeeds;
        for (int i = 1; i < writers.Length; i++)
            if (!writers[i].EpisodeSeeds.SequenceEqual(seeds0))
                throw new InputFormatException($"the partial stores hold different episodes: {writers[0].WorkingPath} has seeds [{string.Join(", ", seeds0)}], {writers[i].WorkingPath} [{string.Join(", ", writers[i].EpisodeSeeds)}]; delete the .partial folders under {o.OutRoot} and start again");
        int nextSeed = committed > 0 ? (int)writers[0].EpisodeSeeds[^1] + 1 : o.SeedStart;
        if (committed > 0) log?.Invoke($"resuming: {committed} episodes already recorded, continuing at seed {nextSeed}");

        // the seeds to try, in commit order: consecutive until Num succeed, or this shard's part of SeedStart..SeedStart+Num−1
        int maxAttempts = o.MaxAttempts ?? 3 * o.Num + 20;
        var seedList = o.Shard is null
            ? Enumerable.Range(nextSeed, maxAttempts).ToList()
            : o.Shard.Positions(o.Num).Select(k => o.SeedStart + k).Where(seed => seed >= nextSeed).ToList();
        int wanted = o.Shard is null ? o.Num : int.MaxValue;
        var sw = Stopwatch.StartNew();
        var done = new ConcurrentDictionary<int, Attempt>();
        int claimed = -1; // index into seedList
        int successes = committed, failures = 0;
        var failed = new List<ExpertOutcome>();
        // seeds the interrupted run tried without recording (the experts are deterministic: they failed) stay listed
        var recordedSeeds = writers[0].EpisodeSeeds.ToHashSet();
        var triedBefore = o.Shard is null
            ? Enumerable.Range(o.SeedStart, Math.Max(0, nextSeed - o.SeedStart))
            : o.Shard.Positions(o.Num).Select(k => o.SeedStart + k).Where(seed => seed < nextSeed);
        foreach (var seed in triedBefore.Where(seed => !recordedSeeds.Contains(seed)))
        {
            failures++;
            failed.Add(new ExpertOutcome(seed, false, 0, "failed in the interrupted run (not tried again on resume)"));
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var signal = new SemaphoreSlim(0);
        // Workers stay at most this many seeds ahead of the committer, bounding memory.
        int window = 2 * o.Workers;
        int commitCursor = 0;

        Exception? workerError = null;
        void Worker()
        {
            try { WorkerLoop(); }
            catch (Exception e) { workerError ??= e; stop.Cancel(); signal.Release(); }
        }

        void WorkerLoop()
        {
            using var env = new MultiAgentEnv(config, TaskRegistry.CreateLogic(config));
            while (!stop.IsCancellationRequested)
            {
                int k = Interlocked.Increment(ref claimed);
                if (k >= seedList.Count) return;
                while (k - Volatile.Read(ref commitCursor) >= window && !stop.IsCancellationRequested) Thread.Sleep(5);
                var frames = Enumerable.Range(0, env.AgentCount).Select(_ => new AgentFrames()).ToArray();
                var outcome = expert.Run(env, seedList[k], (before, actions, _) => Capture(before, actions, frames));
                done[k] = new Attempt(outcome, outcome.Success ? frames : null);
                signal.Release();
            }
        }

        var threads = Enumerable.Range(0, o.Workers).Select(_ => new Thread(Worker) { IsBackground = true }).ToArray();
        foreach (var t in threads) t.Start();
        try
        {
            for (int k = 0; successes < wanted && k < seedList.Count;)
            {
                int seed = seedList[k];
                if (!done.TryRemove(k, out var attempt))
                {
                    if (workerError is not null)
                        throw new InvalidOperationException($"a recording worker failed: {workerError.Message}", workerError);
                    if (threads.All(t => !t.IsAlive) && !done.ContainsKey(k))
                        throw new InvalidOperationException("recording workers stopped unexpectedly");
                    signal.Wait(200, cancel);
                    continue;
                }
                if (attempt.Frames is not null)
                {
                    for (int i = 0; i < writers.Length; i++) writers[i].AppendEpisode(ToEpisode(seed, attempt.Frames[i]), shape);
                    successes++;
                }
                else
                {
                    failures++;
                    failed.Add(attempt.Outcome);
                    log?.Invoke($"seed {seed}: failed after {attempt.Outcome.Steps} steps: {attempt.Outcome.FailureReason}");
                }
                progress?.Report(new PrepareProgress(successes, failures, o.Num, attempt.Outcome));
                k++;
                Volatile.Write(ref commitCursor, k);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var t in threads) t.Join();
        }
        if (o.Shard is null && successes < o.Num)
            throw new InvalidOperationException($"only {successes} of {o.Num} episodes succeeded within {maxAttempts} seeds; the partial stores are kept (resume with --resume --max-attempts N)");
        foreach (var w in writers) w.Complete();

        string summary = Path.Combine(outRoot, SummaryFile(config.Name, o.Num));
        var json = new JsonObject
        {
            ["task"] = config.Name, ["num"] = o.Num, ["seed_start"] = o.SeedStart, ["workers"] = o.Workers,
            ["successes"] = successes, ["failures"] = failures, ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1),
            ["failed"] = new JsonArray(failed.Select(f => (JsonNode)new JsonObject { ["seed"] = f.Seed, ["steps"] = f.Steps, ["reason"] = f.FailureReason }).ToArray()),
            ["stores"] = new JsonArray(writers.Select(w => (JsonNode)w.FinalPath).ToArray()),
        };
        if (o.Shard is not null) json[ShardKey] = o.Shard.ToString();
        File.WriteAllText(summary, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new PrepareResult(writers.Select(w => w.FinalPath).ToList(), successes, failures, failed, sw.Elapsed.TotalSeconds, summary);
    }

    /// <summary>Folder under the zarr root where shards write their stores: shards/shard{i}of{n}.</summary>
    public const string ShardsFolder = "shards";
    const string ShardKey = "shard";

    public static string ShardRoot(string zarrRoot, Shard shard) => Path.Combine(zarrRoot, ShardsFolder, shard.Tag);

    /// <summary>{task}_{num}_prepare.json: what a run tried, recorded and skipped.</summary>
    public static string SummaryFile(string task, int num) => $"{task}_{num}_prepare.json";

    /// <summary>The store shape of a task's cameras (every observation camera must share one size).</summary>
    private static AgentStoreShape StoreShape(Sim.Config.TaskConfig config)
    {
        var head0 = config.Camera(Sim.Config.TaskConfig.HeadCameraName(0));
        var shape = new AgentStoreShape(Height: head0.Height, Width: head0.Width);
        foreach (var c in config.Cameras.Where(c => c.Name != Sim.Config.TaskConfig.RenderCameraName).Append(null))
        {
            var (w, h) = c is null ? (config.WristCamera.Width, config.WristCamera.Height) : (c.Width, c.Height);
            if (w != shape.Width || h != shape.Height)
                throw new ArgumentException($"{config.SourceFile}: all observation cameras must share one size for the ZARR layout; {c?.Name ?? "wrist_camera"} is {w}x{h}, head_camera_agent0 is {shape.Width}x{shape.Height}");
        }
        return shape;
    }

    /// <summary>The store attributes of agent <paramref name="i"/> (the same for a recorded and a merged store).</summary>
    private static JsonObject AgentAttributes(Sim.Config.TaskConfig config, int i) => new()
    {
        ["task"] = config.Name, ["env_id"] = config.EnvId, ["language_instruction"] = config.Instruction, ["agent_id"] = i,
        ["num_agents"] = config.Agents.Count, ["control_freq"] = config.Physics.ControlFreq,
        ["action"] = "7 absolute joint targets (rad) + gripper command in [-1, 1]",
        ["state"] = "measured 7 joint positions (rad) + gripper opening (m)",
        ["tcp_pose"] = "x y z qw qx qy qz, world frame",
        ["cameras"] = new JsonObject { ["head_camera"] = $"head_camera_agent{i}", ["global_camera"] = "head_camera_global", ["wrist_camera"] = $"wrist_camera_agent{i}" },
    };

    /// <summary>
    /// `prepare merge`: combines the stores of `prepare --shard i/n` runs under {zarrRoot}/shards/ into one store per
    /// agent, {zarrRoot}/{task}_Agent{i}_{recorded}.zarr, byte-identical to an unsharded `prepare` that recorded the
    /// same seeds. Refuses shards of different runs (task, --num, --seed-start, shard count), a missing, repeated or
    /// unfinished shard, and seeds that are missing, duplicated or in the wrong shard.
    /// </summary>
    public static PrepareResult Merge(string task, string zarrRoot, bool overwrite = false, string? configFile = null, Action<int, int>? progress = null)
    {
        var (config, _) = TaskRegistry.Load(task, configFile);
        var sw = Stopwatch.StartNew();
        string shardsDir = Path.Combine(zarrRoot, ShardsFolder);
        var summaries = Directory.Exists(shardsDir)
            ? Directory.GetDirectories(shardsDir, "shard*of*").Order()
                .SelectMany(d => Directory.GetFiles(d, $"{config.Name}_*_prepare.json")).Order().ToList()
            : [];
        if (summaries.Count == 0)
            throw new FileNotFoundException($"prepare merge: no finished shard of {config.Name} under {shardsDir} (record them with `prepare --shard i/n`)");

        var shards = new List<(string File, JsonObject Json, Shard Shard)>();
        foreach (var f in summaries)
        {
            JsonObject json;
            try { json = JsonInput.ParseNode(File.ReadAllText(f)) as JsonObject ?? throw new InputFormatException($"{f}: not a JSON object"); }
            catch (JsonException e) { throw new InputFormatException($"{f}: not valid JSON ({e.Message})"); }
            var tag = json[ShardKey]?.GetValue<string>() ?? throw new InputFormatException($"{f}: field '{ShardKey}' is missing: not written by `prepare --shard`");
            shards.Add((f, json, Shard.Parse(tag)!));
        }
        var first = shards[0];
        foreach (var (f, json, shard) in shards.Skip(1))
        {
            foreach (var key in new[] { "num", "seed_start" })
                if (!JsonNode.DeepEquals(json[key], first.Json[key]))
                    throw new InputFormatException($"prepare merge: {f} has {key} = {json[key]?.ToJsonString()}, {first.File} has {first.Json[key]?.ToJsonString()}: shards of different runs");
        }
        int n = Shard.CheckCompleteSet(shards.Select(s => (s.File, s.Shard)).ToList(), "prepare merge", $" of {config.Name}", $" under {shardsDir} (or not finished)");
        int num = first.Json["num"]!.GetValue<int>(), seedStart = first.Json["seed_start"]!.GetValue<int>();

        // every seed of the run is recorded by exactly its own shard, or listed there as failed
        var failedSeeds = new HashSet<int>();
        var failed = new List<ExpertOutcome>();
        foreach (var (_, json, _) in shards)
            foreach (var node in json["failed"]?.AsArray() ?? new JsonArray())
            {
                var e = node ?? throw new InputFormatException($"prepare merge: a failed seed of {json["shard"]} is null");
                int seed = e["seed"]!.GetValue<int>();
                failedSeeds.Add(seed);
                failed.Add(new ExpertOutcome(seed, false, e["steps"]?.GetValue<int>() ?? 0, e["reason"]?.GetValue<string>()));
            }
        var stores = new List<string>();
        int recorded = -1;
        var shape = StoreShape(config);
        var specs = RoboFactoryZarrLayout.AgentArrays(shape);
        for (int agent = 0; agent < config.Agents.Count; agent++)
        {
            var episodes = new List<(long Seed, string Store, long Start, int Length)>();
            foreach (var (f, _, shard) in shards)
            {
                string store = RoboFactoryZarrLayout.StorePath(Path.GetDirectoryName(f)!, config.Name, agent, num);
                if (!ZarrEpisodeWriter.IsComplete(store))
                    throw new InputFormatException($"prepare merge: {store} is missing or unfinished (resume that shard with `prepare --shard {shard} --resume`)");
                var reader = ZarrGroup.Open(store);
                var ends = reader.OpenArray<long>(ZarrEpisodeWriter.EpisodeEndsName).ReadAll();
                var seeds = (reader.ReadAttributes()[ZarrEpisodeWriter.SeedsAttribute] as JsonArray)?.Select(x => x!.GetValue<long>()).ToList()
                    ?? throw new ZarrFormatException(reader.AttributesPath, ZarrEpisodeWriter.SeedsAttribute, "is missing");
                if (seeds.Count != ends.Length)
                    throw new ZarrFormatException(reader.AttributesPath, ZarrEpisodeWriter.SeedsAttribute, $"lists {seeds.Count} seeds for {ends.Length} episodes");
                for (int e = 0; e < ends.Length; e++)
                {
                    long start = e == 0 ? 0 : ends[e - 1];
                    if (!shard.Holds((int)(seeds[e] - seedStart)))
                        throw new InputFormatException($"prepare merge: {store} holds seed {seeds[e]}, which belongs to shard {(seeds[e] - seedStart) % n}/{n}, not {shard}");
                    episodes.Add((seeds[e], store, start, (int)(ends[e] - start)));
                }
            }
            var dup = episodes.GroupBy(e => e.Seed).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (dup.Count > 0) throw new InputFormatException($"prepare merge: seed(s) {string.Join(", ", dup)} recorded twice for agent {agent}");
            var have = episodes.Select(e => e.Seed).ToHashSet();
            var missing = Enumerable.Range(seedStart, num).Where(s => !have.Contains(s) && !failedSeeds.Contains(s)).ToList();
            if (missing.Count > 0) throw new InputFormatException($"prepare merge: seed(s) {string.Join(", ", missing.Take(10))} of agent {agent} are neither recorded nor listed as failed");
            if (recorded >= 0 && episodes.Count != recorded) throw new InputFormatException($"prepare merge: agent {agent} has {episodes.Count} episodes, agent 0 {recorded}");
            recorded = episodes.Count;
            if (recorded == 0) throw new InputFormatException($"prepare merge: the shards recorded no episode of {config.Name}");

            string path = RoboFactoryZarrLayout.StorePath(zarrRoot, config.Name, agent, recorded);
            if (ZarrEpisodeWriter.IsComplete(path) && !overwrite)
                throw new ArgumentException($"{path} already exists (finished); pass --overwrite to replace it");
            var writer = RoboFactoryZarrLayout.OpenWriter(path, shape,
                new ZarrEpisodeWriterOptions { Overwrite = overwrite, Attributes = AgentAttributes(config, agent), Threads = 1 });
            int written = 0;
            foreach (var e in episodes.OrderBy(e => e.Seed))
            {
                var columns = new EpisodeColumns();
                foreach (var spec in specs) ReadInto(columns, Path.Combine(e.Store, spec.Name), spec, e.Start, e.Length);
                writer.AppendEpisode(e.Seed, e.Length, columns);
                progress?.Invoke(agent * recorded + ++written, config.Agents.Count * recorded);
            }
            writer.Complete();
            stores.Add(writer.FinalPath);
        }

        string summary = Path.Combine(zarrRoot, SummaryFile(config.Name, recorded));
        var merged = new JsonObject
        {
            ["task"] = config.Name, ["num"] = recorded, ["seed_start"] = seedStart, ["merged_shards"] = n,
            ["successes"] = recorded, ["failures"] = failed.Count, ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1),
            ["failed"] = new JsonArray(failed.OrderBy(f => f.Seed).Select(f => (JsonNode)new JsonObject { ["seed"] = f.Seed, ["steps"] = f.Steps, ["reason"] = f.FailureReason }).ToArray()),
            ["stores"] = new JsonArray(stores.Select(s => (JsonNode)s).ToArray()),
        };
        File.WriteAllText(summary, merged.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new PrepareResult(stores, recorded, failed.Count, failed.OrderBy(f => f.Seed).ToList(), sw.Elapsed.TotalSeconds, summary);
    }

    private static void ReadInto(EpisodeColumns columns, string arrayPath, EpisodeArraySpec spec, long start, int length)
    {
        var t = spec.DType.ClrType;
        if (t == typeof(byte)) columns.Add(spec.Name, ZarrArray<byte>.Open(arrayPath).ReadRows(start, length));
        else if (t == typeof(float)) columns.Add(spec.Name, ZarrArray<float>.Open(arrayPath).ReadRows(start, length));
        else if (t == typeof(long)) columns.Add(spec.Name, ZarrArray<long>.Open(arrayPath).ReadRows(start, length));
        else throw new NotSupportedException($"{arrayPath}: episode arrays of {spec.DType} are not merged");
    }

    private static void Capture(Observation before, double[][] actions, AgentFrames[] frames)
    {
        for (int i = 0; i < frames.Length; i++)
        {
            var a = before.Agents[i];
            var f = frames[i];
            f.Head.Add(ToChw(a.HeadCamera!));
            f.Wrist.Add(ToChw(a.WristCamera!));
            f.Global.Add(ToChw(a.GlobalCamera!));
            f.Action.Add(actions[i].Select(v => (float)v).ToArray());
            f.State.Add(a.JointState());
            f.Tcp.Add(a.TcpPose.ToArray().Select(v => (float)v).ToArray());
        }
    }

    /// <summary>HWC (renderer) to CHW (upstream ZARR layout).</summary>
    public static byte[] ToChw(Image8 img)
    {
        var chw = new byte[img.Pixels.Length];
        Data.Imaging.ImageOps.HwcToChw(img.Pixels, chw, 3, img.Height, img.Width);
        return chw;
    }

    private static AgentEpisode ToEpisode(int seed, AgentFrames f) => new()
    {
        Seed = seed,
        Length = f.Action.Count,
        HeadCamera = Concat(f.Head),
        WristCamera = Concat(f.Wrist),
        GlobalCamera = Concat(f.Global),
        Action = Concat(f.Action),
        State = Concat(f.State),
        TcpPose = Concat(f.Tcp),
    };

    private static T[] Concat<T>(List<T[]> rows)
    {
        var result = new T[rows.Sum(r => r.Length)];
        int k = 0;
        foreach (var r in rows) { r.CopyTo(result, k); k += r.Length; }
        return result;
    }
}
