using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Policies.OpenVlaOft;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Policies;

/// <summary>A registered trainable policy: how to build it for training and how to load trained agents for eval.</summary>
/// <param name="LoadAgents">one actor per agent checkpoint folder (may share one base model between agents)</param>
/// <param name="DefaultActionChunk">actions per sample when `--action-chunk` is not given</param>
public sealed record PolicyEntry(string Name, string Description, int DefaultActionChunk,
    Func<PolicyTrainingSetup, ITrainablePolicy> CreateForTraining,
    Func<IReadOnlyList<string>, PolicyLoadOptions, LoadedAgents> LoadAgents);

/// <summary>Trainable policies by name, as `train --policy` and `eval --policy` accept them. One line per policy.</summary>
public static class PolicyRegistry
{
    static readonly PolicyEntry[] Entries =
    [
        new(OpenVlaTokenPolicy.PolicyName, "OpenVLA with 256-bin action tokens (greedy or expected decoding)", 1, OpenVlaTokenPolicy.Create, OpenVlaTokenPolicy.LoadAgents),
        new(OpenVlaOftPolicy.PolicyName, "OpenVLA-OFT: parallel decoding of an action chunk in one pass, continuous actions from an L1 head", 8, OpenVlaOftPolicy.Create, OpenVlaOftPolicy.LoadAgents),
    ];

    /// <summary>What `train --policy` defaults to.</summary>
    public const string DefaultName = OpenVlaTokenPolicy.PolicyName;

    public static IReadOnlyList<PolicyEntry> All => Entries;
    public static IReadOnlyList<string> Names => Entries.Select(e => e.Name).ToArray();

    /// <summary>
    /// The policy a checkpoint was trained as: the "policy" field of its policy.json (run folders follow `latest`);
    /// checkpoints written before the field existed are openvla.
    /// </summary>
    public static string NameOf(string checkpointDir)
    {
        string dir = File.Exists(Path.Combine(checkpointDir, Training.VlaTrainer.PolicyFile)) ? checkpointDir
            : Training.VlaTrainer.LatestCheckpoint(checkpointDir)
              ?? throw new FileNotFoundException($"{checkpointDir} is neither a step folder ({Training.VlaTrainer.PolicyFile}) nor a run folder with a `latest` pointer");
        string path = Path.Combine(dir, Training.VlaTrainer.PolicyFile);
        try
        {
            var node = JsonInput.ParseNode(File.ReadAllText(path));
            return (string?)node?["policy"] ?? OpenVlaTokenPolicy.PolicyName; // the only policy before the field
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new InputFormatException($"{path}: not a policy.json ({e.Message}); expected a JSON object with a string \"policy\"", e);
        }
    }

    public static PolicyEntry Get(string name) =>
        Entries.FirstOrDefault(e => e.Name == name)
        ?? throw new ArgumentException($"unknown policy '{name}'; trainable policies: {string.Join(", ", Names)}");
}
