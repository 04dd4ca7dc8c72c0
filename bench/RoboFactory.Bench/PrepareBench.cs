using RoboFactory.Recording;

namespace RoboFactory.Bench;

/// <summary>`bench prepare`: successful expert episodes per minute (recording included) with 1 and 2 workers, interleaved.</summary>
public static class PrepareBench
{
    public static (Timing OneWorker, Timing TwoWorkers) EpisodesPerMinute(string task, int episodes, int repeats, TextWriter log)
    {
        var one = new List<double>();
        var two = new List<double>();
        log.WriteLine($"bench prepare: {task}, {episodes} episodes per run with 1 and 2 workers, {repeats} interleaved repeats");
        for (int r = 0; r < repeats; r++)
            foreach (int workers in new[] { 1, 2 })
            {
                string dir = Directory.CreateTempSubdirectory("robofactory-prepbench-").FullName;
                try
                {
                    var res = DemoRecorder.Run(new PrepareOptions(task, episodes, workers, OutRoot: dir));
                    double perMin = 60 * res.Successes / res.Seconds;
                    (workers == 1 ? one : two).Add(perMin);
                    log.WriteLine(FormattableString.Invariant($"  repeat {r + 1}, {workers} worker(s): {perMin:0.0} episodes/min ({res.Failures} failed seeds)"));
                }
                finally { Directory.Delete(dir, recursive: true); }
            }
        return (new Timing("episodes/min, 1 worker", one, "ep/min"), new Timing("episodes/min, 2 workers", two, "ep/min"));
    }
}
