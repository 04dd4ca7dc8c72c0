using RoboFactory.Core.Naming;
using RoboFactory.Core.Imaging;
using RoboFactory.Data.Imaging;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboFactory.Data.Zarr;
using RoboFactory.Planning;
using RoboFactory.Sim.Env;

namespace RoboFactory.Recording;

/// <param name="Task">task name (e.g. LiftBarrier)</param>
/// <param name="Num">successful episodes wanted</param>
/// <param name="Workers">parallel simulation workers (each owns an environment and a renderer)</param>
/// <param name="SeedStart">first seed tried; seeds are tried in order, failures are skipped</param>
/// <param name="OutRoot">folder that receives {task}_Agent{i}_{num}.zarr</param>
/// <param name="Resume">continue an interrupted run from its ".partial" stores</param>
/// <param name="Overwrite">replace finished stores of the same name</param>
/// <param name="MaxAttempts">give up after this many seeds (default 3·num + 20)</param>
public sealed record PrepareOptions(
    string Task, int Num, int Workers = 1, int SeedStart = 0, string OutRoot = DataNames.DefaultZarrRoot,
    bool Resume = false, bool Overwrite = false, int? MaxAttempts = null, string? ConfigFile = null);

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
        var head0 = config.Camera(Sim.Config.TaskConfig.HeadCameraName(0));
        var shape = new AgentStoreShape(Height: head0.Height, Width: head0.Width);
        foreach (var c in config.Cameras.Where(c => c.Name != Sim.Config.TaskConfig.RenderCameraName).Append(null))
        {
            var (w, h) = c is null ? (config.WristCamera.Width, config.WristCamera.Height) : (c.Width, c.Height);
            if (w != shape.Width || h != shape.Height)
                throw new ArgumentException($"{config.SourceFile}: all observation cameras must share one size for the ZARR layout; {c?.Name ?? "wrist_camera"} is {w}x{h}, head_camera_agent0 is {shape.Width}x{shape.Height}");
        }
        Directory.CreateDirectory(o.OutRoot);

        var writers = new ZarrEpisodeWriter[config.Agents.Count];
        for (int i = 0; i < writers.Length; i++)
        {
            string path = RoboFactoryZarrLayout.StorePath(o.OutRoot, config.Name, i, o.Num);
            if (ZarrEpisodeWriter.IsComplete(path) && !o.Overwrite)
                throw new ArgumentException($"{path} already exists (finished); pass --overwrite to replace it");
            var attrs = new JsonObject
            {
                ["task"] = config.Name, ["env_id"] = config.EnvId, ["language_instruction"] = config.Instruction, ["agent_id"] = i,
                ["num_agents"] = config.Agents.Count, ["control_freq"] = config.Physics.ControlFreq,
                ["action"] = "7 absolute joint targets (rad) + gripper command in [-1, 1]",
                ["state"] = "measured 7 joint positions (rad) + gripper opening (m)",
                ["tcp_pose"] = "x y z qw qx qy qz, world frame",
                ["cameras"] = new JsonObject { ["head_camera"] = $"head_camera_agent{i}", ["global_camera"] = "head_camera_global", ["wrist_camera"] = $"wrist_camera_agent{i}" },
            };
            writers[i] = RoboFactoryZarrLayout.OpenWriter(path, shape,
                new ZarrEpisodeWriterOptions { Resume = o.Resume, Overwrite = o.Overwrite, Attributes = attrs, Threads = 1 });
        }
        int committed = writers.Min(w => w.EpisodeCount);
        if (writers.Any(w => w.EpisodeCount != committed))
            throw new InvalidDataException($"the partial stores disagree on the number of recorded episodes ({string.Join(", ", writers.Select(w => w.EpisodeCount))}); delete the .partial folders under {o.OutRoot} and start again");
        int nextSeed = committed > 0 ? (int)writers[0].EpisodeSeeds[^1] + 1 : o.SeedStart;
        if (committed > 0) log?.Invoke($"resuming: {committed} episodes already recorded, continuing at seed {nextSeed}");

        int maxAttempts = o.MaxAttempts ?? 3 * o.Num + 20;
        var sw = Stopwatch.StartNew();
        var done = new ConcurrentDictionary<int, Attempt>();
        int claimed = nextSeed - 1, lastSeed = nextSeed + maxAttempts - 1;
        int successes = committed, failures = 0;
        var failed = new List<ExpertOutcome>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var signal = new SemaphoreSlim(0);
        // Workers stay at most this many seeds ahead of the committer, bounding memory.
        int window = 2 * o.Workers;
        int commitCursor = nextSeed;

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
                int seed = Interlocked.Increment(ref claimed);
                if (seed > lastSeed) return;
                while (seed - Volatile.Read(ref commitCursor) >= window && !stop.IsCancellationRequested) Thread.Sleep(5);
                var frames = Enumerable.Range(0, env.AgentCount).Select(_ => new AgentFrames()).ToArray();
                var outcome = expert.Run(env, seed, (before, actions, _) => Capture(before, actions, frames));
                done[seed] = new Attempt(outcome, outcome.Success ? frames : null);
                signal.Release();
            }
        }

        var threads = Enumerable.Range(0, o.Workers).Select(_ => new Thread(Worker) { IsBackground = true }).ToArray();
        foreach (var t in threads) t.Start();
        try
        {
            for (int seed = nextSeed; successes < o.Num && seed <= lastSeed;)
            {
                if (!done.TryRemove(seed, out var attempt))
                {
                    if (workerError is not null)
                        throw new InvalidOperationException($"a recording worker failed: {workerError.Message}", workerError);
                    if (threads.All(t => !t.IsAlive) && !done.ContainsKey(seed))
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
                seed++;
                Volatile.Write(ref commitCursor, seed);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var t in threads) t.Join();
        }
        if (successes < o.Num)
            throw new InvalidOperationException($"only {successes} of {o.Num} episodes succeeded within {maxAttempts} seeds; the partial stores are kept (resume with --resume --max-attempts N)");
        foreach (var w in writers) w.Complete();

        string summary = Path.Combine(o.OutRoot, $"{config.Name}_{o.Num}_prepare.json");
        var json = new JsonObject
        {
            ["task"] = config.Name, ["num"] = o.Num, ["seed_start"] = o.SeedStart, ["workers"] = o.Workers,
            ["successes"] = successes, ["failures"] = failures, ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1),
            ["failed"] = new JsonArray(failed.Select(f => (JsonNode)new JsonObject { ["seed"] = f.Seed, ["steps"] = f.Steps, ["reason"] = f.FailureReason }).ToArray()),
            ["stores"] = new JsonArray(writers.Select(w => (JsonNode)w.FinalPath).ToArray()),
        };
        File.WriteAllText(summary, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new PrepareResult(writers.Select(w => w.FinalPath).ToList(), successes, failures, failed, sw.Elapsed.TotalSeconds, summary);
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
