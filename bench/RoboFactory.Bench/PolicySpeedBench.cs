using System.Diagnostics;
using RoboFactory.Data.Rlds;
using RoboFactory.Eval;
using RoboFactory.Planning;
using RoboFactory.Recording;
using RoboFactory.Vla.Policies;
using RoboFactory.Vla.Training;

namespace RoboFactory.Bench;

/// <summary>
/// `bench eval --compare-policies`: the token policy (openvla) and the parallel-decoding policy (openvla-oft) acting for
/// the same tiny agents with 3 views on the same seeds, each with its default action chunk: env steps/s, the seconds
/// spent inside the policies per env step (results.json's policy_seconds), policy calls, and the ratio. The weights
/// are a 1-step fine-tune on one demonstration: the timing does not depend on what the policy learned, since both
/// always decode the same number of tokens (openvla) or run one forward pass (openvla-oft).
/// </summary>
public static class PolicySpeedBench
{
    public sealed record PolicyTiming(string Policy, int ActionChunk, Timing StepsPerSecond, Timing PolicySecondsPerStep, double CallsPerStep);

    public static IReadOnlyList<PolicyTiming> Run(string task, int episodes, int steps, int repeats, int imageSize, TextWriter log)
    {
        var (cfg, _) = TaskRegistry.Load(task);
        string root = Directory.CreateTempSubdirectory("robofactory-policybench-").FullName;
        try
        {
            log.WriteLine($"bench eval --compare-policies: {cfg.EnvId}, {cfg.Agents.Count} tiny agents ({imageSize} px, 3 views, proprio), {episodes} episode(s) × {steps} steps per run, {repeats} repeats, seeds 1000+");
            var prep = DemoRecorder.Run(new PrepareOptions(cfg.Name, 1, OutRoot: Path.Combine(root, "zarr")));
            var data = prep.Stores.Select(s => ZarrToRlds.Convert(s, Path.Combine(root, "rlds")).Dataset.DatasetDirectory).ToList();
            var policies = new[] { "openvla", "openvla-oft" };
            var ckpts = new Dictionary<string, IReadOnlyList<string>>();
            foreach (var p in policies)
            {
                string ckptRoot = Path.Combine(root, "ckpt", p);
                for (int i = 0; i < data.Count; i++)
                {
                    using var t = VlaTrainer.Create(new TrainOptions
                    {
                        Policy = p, Task = cfg.Name, AgentId = i, DataPath = data[i], ImageSize = imageSize, Proprio = true, MaxSteps = 1,
                        BatchSize = 2, SaveEvery = 1, ValEvery = 0, ValFraction = 0, Logger = "none", Plots = false, CheckpointRoot = ckptRoot,
                    });
                    t.Run();
                }
                ckpts[p] = LearnedPolicy.CheckpointDirs(ckptRoot, cfg, p);
            }
            var sps = policies.ToDictionary(p => p, _ => new List<double>());
            var sec = policies.ToDictionary(p => p, _ => new List<double>());
            var calls = policies.ToDictionary(p => p, _ => 0.0);
            var chunk = new Dictionary<string, int>();
            for (int r = 0; r < repeats; r++)
                foreach (var p in policies) // alternated, so both see the same machine state
                {
                    LearnedPolicy? lp = null;
                    var sw = Stopwatch.StartNew();
                    var rep = Evaluator.Run(new EvalOptions(cfg.Name, episodes, 1000, MaxSteps: steps, OutRoot: Path.Combine(root, "eval"), Run: $"{p}{r}"),
                        () => lp = LearnedPolicy.Load(ckpts[p]));
                    double wall = sw.Elapsed.TotalSeconds;
                    int envSteps = rep.Results.Sum(e => e.Steps);
                    sps[p].Add(envSteps / wall);
                    sec[p].Add(rep.Results.Sum(e => e.PolicySeconds) / envSteps);
                    calls[p] = (double)rep.Results.Sum(e => e.PolicyCalls) / envSteps;
                    chunk[p] = PolicyRegistry.Get(p).DefaultActionChunk;
                    log.WriteLine(FormattableString.Invariant(
                        $"  repeat {r + 1} {p,-12}: {sps[p][^1],6:0.00} env steps/s, {1000 * sec[p][^1],8:0.0} ms in the policies per env step, {calls[p]:0.00} calls per env step"));
                }
            return policies.Select(p => new PolicyTiming(p, chunk[p], new Timing($"{p}: env steps/s", sps[p], "steps/s"),
                new Timing($"{p}: policy ms per env step ({cfg.Agents.Count} agents)", sec[p].Select(x => 1000 * x).ToList(), "ms"), calls[p])).ToList();
        }
        finally { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }
    }

    public static void Print(IReadOnlyList<PolicyTiming> r, TextWriter w)
    {
        foreach (var t in r)
        {
            w.WriteLine(FormattableString.Invariant($"{t.Policy} (action chunk {t.ActionChunk}, {t.CallsPerStep:0.00} calls per env step per all agents)"));
            w.WriteLine(t.StepsPerSecond);
            w.WriteLine(t.PolicySecondsPerStep);
        }
        if (r.Count == 2)
            w.WriteLine(FormattableString.Invariant(
                $"policy time per env step, {r[0].Policy} / {r[1].Policy}: median {r[0].PolicySecondsPerStep.Median / r[1].PolicySecondsPerStep.Median:0.0} x   (expected >= 10 x); env steps/s {r[1].StepsPerSecond.Median / r[0].StepsPerSecond.Median:0.0} x"));
    }
}
