using System.Diagnostics;
using RoboFactory.Eval;
using RoboFactory.Planning;

namespace RoboFactory.Bench;

/// <summary>
/// `bench eval`: closed-loop policy steps/s and episodes/hour — the scripted expert (simulation + planning only)
/// and, when checkpoints are given, the OpenVLA agents (rendering + inference for every agent each step).
/// </summary>
public static class EvalBench
{
    public sealed record Result(Timing ExpertStepsPerSecond, Timing ExpertEpisodesPerHour, Timing? PolicyStepsPerSecond, Timing? PolicyEpisodesPerHour);

    public static Result Run(string task, int episodes, int repeats, string? checkpoints, int policySteps, TextWriter log)
    {
        var (cfg, _) = TaskRegistry.Load(task);
        var eSteps = new List<double>(); var eHour = new List<double>(); var pSteps = new List<double>(); var pHour = new List<double>();
        string dir = Directory.CreateTempSubdirectory("robofactory-evalbench-").FullName;
        try
        {
            log.WriteLine($"bench eval: {cfg.EnvId}, {episodes} episode(s) per run, {repeats} repeats{(checkpoints is null ? "" : $", OpenVLA checkpoints {checkpoints} ({policySteps} steps per episode)")}");
            for (int r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                var rep = Evaluator.Run(new EvalOptions(cfg.Name, episodes, 1000, OutRoot: dir, Run: $"expert{r}"), () => new ExpertPolicy(cfg.Name));
                double sec = sw.Elapsed.TotalSeconds;
                eSteps.Add(rep.Results.Sum(e => e.Steps) / sec);
                eHour.Add(3600 * rep.Results.Count / sec);
                log.WriteLine(FormattableString.Invariant($"  repeat {r + 1}: expert {eSteps[^1]:0} steps/s, {eHour[^1]:0} episodes/h"));
                if (checkpoints is null) continue;
                var dirs = LearnedPolicy.CheckpointDirs(checkpoints, cfg);
                sw.Restart();
                var p = Evaluator.Run(new EvalOptions(cfg.Name, episodes, 1000, MaxSteps: policySteps, OutRoot: dir, Run: $"openvla{r}"), () => LearnedPolicy.Load(dirs));
                sec = sw.Elapsed.TotalSeconds;
                pSteps.Add(p.Results.Sum(e => e.Steps) / sec);
                // an episode of the expert's mean length, at the policy's step rate
                pHour.Add(3600 * pSteps[^1] / Math.Max(1, rep.Results.Average(e => e.Steps)));
                log.WriteLine(FormattableString.Invariant($"  repeat {r + 1}: openvla {pSteps[^1]:0.00} steps/s ({cfg.Agents.Count} agents, 3 views each), {pHour[^1]:0.0} expert-length episodes/h"));
            }
            return new Result(new Timing("expert: env steps/s (closed loop)", eSteps, "steps/s"), new Timing("expert: episodes/hour", eHour, "ep/h"),
                checkpoints is null ? null : new Timing("openvla: env steps/s (all agents act)", pSteps, "steps/s"),
                checkpoints is null ? null : new Timing("openvla: episodes/hour (expert-length episodes)", pHour, "ep/h"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
