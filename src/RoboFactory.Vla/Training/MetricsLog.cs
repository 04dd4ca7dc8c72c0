using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;

namespace RoboFactory.Vla.Training;

/// <summary>
/// Metrics of one optimizer step (averaged over its micro-batches) or one validation pass. <see cref="Accuracy"/> is
/// the action-token accuracy, NaN for a policy without action tokens (openvla-oft's L1 head).
/// </summary>
public sealed record StepMetrics(long Step, string Split, double Loss, double Accuracy, double L1, double Lr, double GradNorm,
    double SamplesPerSecond, double ElapsedSeconds, long Samples)
{
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["step"] = Step, ["split"] = Split, ["loss"] = Loss };
        if (HasAccuracy) o["action_accuracy"] = Accuracy;
        o["l1"] = L1;
        if (Split == "train")
        {
            o["lr"] = Lr; o["grad_norm"] = GradNorm; o["samples_per_s"] = SamplesPerSecond; o["elapsed_s"] = ElapsedSeconds;
        }
        o["samples"] = Samples;
        return o;
    }

    public static StepMetrics FromJson(JsonNode n) => new(
        n["step"]!.GetValue<long>(), (string?)n["split"] ?? "train", n["loss"]!.GetValue<double>(), n["action_accuracy"]?.GetValue<double>() ?? double.NaN,
        n["l1"]!.GetValue<double>(), n["lr"]?.GetValue<double>() ?? 0, n["grad_norm"]?.GetValue<double>() ?? 0,
        n["samples_per_s"]?.GetValue<double>() ?? 0, n["elapsed_s"]?.GetValue<double>() ?? 0, n["samples"]?.GetValue<long>() ?? 0);

    public bool HasAccuracy => !double.IsNaN(Accuracy);

    public override string ToString() => FormattableString.Invariant(
        $"step {Step} {Split}: loss {Loss:0.0000}, {(HasAccuracy ? FormattableString.Invariant($"action acc {Accuracy:P1}, ") : "")}L1 {L1:0.0000}");
}

/// <summary>
/// metrics.jsonl (one JSON object per line: train steps and validation passes) and, with the tensorboard logger,
/// TensorBoard event files under tb/ (tags train/loss, train/action_accuracy, train/l1, train/lr, val/…).
/// On resume, lines after the resumed step are dropped so the file reads like one uninterrupted run.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";
    readonly StreamWriter? jsonl;
    readonly TorchSharp.Modules.SummaryWriter? tb;

    public MetricsLog(string runDir, string logger, long resumeStep)
    {
        if (logger == "none") return;
        string path = Path.Combine(runDir, FileName);
        if (File.Exists(path))
        {
            var keep = File.ReadAllLines(path).Where(l =>
            {
                if (string.IsNullOrWhiteSpace(l)) return false;
                try { return JsonNode.Parse(l)?["step"]?.GetValue<long>() <= resumeStep; } catch (System.Text.Json.JsonException) { return false; }
            }).ToList();
            File.WriteAllLines(path, keep);
        }
        jsonl = new StreamWriter(path, append: true) { AutoFlush = true };
        if (logger == "tensorboard")
            tb = torch.utils.tensorboard.SummaryWriter(Path.Combine(runDir, "tb"), filename_suffix: "", createRunName: false);
    }

    public void Write(StepMetrics m)
    {
        jsonl?.WriteLine(m.ToJson().ToJsonString());
        if (tb is null) return;
        int step = (int)m.Step;
        tb.add_scalar($"{m.Split}/loss", (float)m.Loss, step);
        if (m.HasAccuracy) tb.add_scalar($"{m.Split}/action_accuracy", (float)m.Accuracy, step);
        tb.add_scalar($"{m.Split}/l1", (float)m.L1, step);
        if (m.Split == "train")
        {
            tb.add_scalar("train/lr", (float)m.Lr, step);
            tb.add_scalar("train/grad_norm", (float)m.GradNorm, step);
            tb.add_scalar("train/samples_per_s", (float)m.SamplesPerSecond, step);
        }
    }

    public static List<StepMetrics> Read(string runDirOrFile)
    {
        string path = Directory.Exists(runDirOrFile) ? Path.Combine(runDirOrFile, FileName) : runDirOrFile;
        if (!File.Exists(path)) throw new FileNotFoundException($"no {FileName} at {runDirOrFile} (was the run logged with --logger none?)", path);
        return File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => StepMetrics.FromJson(JsonNode.Parse(l)!)).ToList();
    }

    public void Dispose() => jsonl?.Dispose();

    internal static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
