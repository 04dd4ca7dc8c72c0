using System.Text.Json;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Tokenization;
using RoboFactory.Vla.Training;
using TorchSharp;
using TorchSharp.Modules;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Policies.OpenVla;

/// <summary>
/// The OpenVLA backbone as every OpenVLA-based policy trains it: the tiny model from scratch (full fine-tune) or a
/// pretrained Hugging Face folder with a LoRA adapter (PEFT layout), restored from a step folder on resume.
/// </summary>
public sealed record OpenVlaBase(OpenVlaForActionPrediction Model, PromptEncoder Prompts, LoraConfig? Lora, List<(string, Parameter)> Trainable)
{
    public static OpenVlaBase Build(TrainOptions o, string? resumeFrom, TextWriter log)
    {
        bool resume = resumeFrom is not null;
        var device = Pretrained.ParseDevice(o.Device);
        var dtype = Pretrained.ParseDType(o.DType);
        OpenVlaForActionPrediction model;
        LlamaTextTokenizer? tokenizer = null;
        if (o.IsTinyFromScratch) model = Pretrained.Create(o.TinyConfig, device, dtype, seed: o.Seed);
        else
        {
            if (!Directory.Exists(o.Model)) throw new DirectoryNotFoundException($"--model {o.Model}: not 'tiny' and not a model folder");
            log.WriteLine($"loading {o.Model} ({o.DType})…");
            model = Pretrained.Load(o.Model, device, dtype);
        }
        string? tokPath = o.Tokenizer ?? (o.IsTinyFromScratch ? null : Path.Combine(o.Model, "tokenizer.model"));
        if (tokPath is not null && File.Exists(tokPath)) tokenizer = LlamaTextTokenizer.Load(tokPath);
        var prompts = new PromptEncoder(model.Config, tokenizer, o.PromptStandIn);
        if (tokenizer is null && !o.IsTinyFromScratch) log.WriteLine($"warning: no tokenizer.model; prompts use the {prompts.Kind} (only sensible for models trained on it)");

        LoraConfig? lora = null;
        List<(string, Parameter)> trainable;
        if (o.UsesFullFinetune)
        {
            if (resume) CheckpointIO.Load(model, resumeFrom!, strict: true);
            foreach (var (_, p) in model.named_parameters()) p.requires_grad = true;
            trainable = model.named_parameters().Select(x => (x.name, x.parameter)).ToList();
        }
        else
        {
            if (resume)
            {
                using var loaded = LoraModel.Load(model, resumeFrom!);
                lora = loaded.Config;
            }
            else
            {
                lora = new LoraConfig
                {
                    R = o.LoraRank, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, InitLoraWeights = o.LoraInit,
                    TargetModules = o.LoraTargets ?? LoraConfig.LlamaProjections,
                    ModulesToSave = o.TrainProjector ? ["projector"] : [],
                    BaseModelNameOrPath = o.IsTinyFromScratch ? "tiny" : Path.GetFullPath(o.Model),
                };
                LoraModel.Attach(model, lora, LoraModel.DefaultAdapter, seed: o.Seed + 1);
            }
            trainable = LoraModel.PrepareForTraining(model, LoraModel.DefaultAdapter, o.TrainProjector);
        }

        model.SetGradientCheckpointing(o.GradientCheckpointing);
        return new OpenVlaBase(model, prompts, lora, trainable);
    }

    /// <summary>Adapter or full weights, config.json with the agent's norm_stats, dataset_statistics.json and tokenizer.model.</summary>
    public static void SaveWeights(OpenVlaForActionPrediction model, LoraConfig? lora, TrainOptions o, VlaTrainingData train, string datasetName, string statsPath, string dir)
    {
        var statsDict = new Dictionary<string, ActionStatistics> { [datasetName] = train.Statistics };
        var config = model.Config with { NormStats = statsDict };
        if (lora is null) CheckpointIO.Save(model, dir);
        else LoraModel.Save(model, lora, dir);
        ConfigJson.Write(config, Path.Combine(dir, "config.json"));
        if (File.Exists(statsPath)) File.Copy(statsPath, Path.Combine(dir, VlaTrainer.StatsFile));
        else File.WriteAllText(Path.Combine(dir, VlaTrainer.StatsFile), NormStatsJson.ToJson(statsDict).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (train.Prompts.Tokenizer is not null && !o.IsTinyFromScratch)
        {
            var tok = o.Tokenizer ?? Path.Combine(o.Model, "tokenizer.model");
            if (File.Exists(tok)) File.Copy(tok, Path.Combine(dir, "tokenizer.model"));
        }
    }

    /// <summary>The dataset's proprio q01/q99 (`--proprio`), checked against its state dimension.</summary>
    public static ProprioStatistics ProprioStatisticsOf(Data.Datasets.IEpisodeDataset ds, string statisticsPath)
    {
        var norm = ds.Statistics!;
        if (norm.Proprio.Q01.Length != ds.Spec.StateDim)
            throw new InputFormatException($"{statisticsPath}: proprio statistics have {norm.Proprio.Q01.Length} dims, the dataset's state {ds.Spec.StateDim} (re-run convert)");
        return new ProprioStatistics(norm.Proprio.Q01, norm.Proprio.Q99);
    }

    /// <summary>policy.json of an OpenVLA-based policy: what inference must reproduce from training.</summary>
    public static VlaPolicyInfo PolicyInfo(string policy, TrainOptions o, LoraConfig? lora, VlaTrainingData train, ProprioStatistics? proprio,
        string datasetName, long step, string? attention = null) => new()
    {
        Policy = policy,
        Mode = lora is null ? "full" : "lora",
        BaseModel = o.IsTinyFromScratch ? "tiny" : Path.GetFullPath(o.Model),
        BaseSeed = o.Seed,
        Views = o.Views,
        CenterCrop = o.ImageAug,
        UnnormKey = datasetName,
        Prompt = train.Prompts.Kind,
        ActionDim = train.Statistics.Dimension,
        ActionChunk = o.EffectiveActionChunk,
        ProprioQ01 = proprio?.Q01,
        ProprioQ99 = proprio?.Q99,
        Attention = attention,
        Step = step,
    };
}
