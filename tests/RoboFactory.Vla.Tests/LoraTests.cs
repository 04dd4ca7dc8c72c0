using RoboFactory.Vla.Policies.OpenVla;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Checkpoint;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

public class LoraTests
{
    static (Tensor Px, Tensor Ids) Inputs(int views = 1)
    {
        var px = torch.randn(1, 6 * views, 112, 112, generator: new Generator(11));
        var ids = torch.tensor(new long[] { 1, 40, 41, 42, 3900, 3901, 2 }).unsqueeze(0);
        return (px, ids);
    }

    static void RandomizeB(OpenVlaForActionPrediction m, string adapter, int seed)
    {
        var g = new Generator((ulong)seed);
        using var noGrad = torch.no_grad();
        foreach (var (_, l) in LoraModel.Layers(m))
            if (l.HasAdapter(adapter)) l.B(adapter).copy_(torch.randn(l.B(adapter).shape, generator: g) * 0.05);
    }

    [Fact]
    public void OpenVla7B_DefaultLora_Trains_79953920_Of_7621191104()
    {
        var c = OpenVlaConfig.OpenVla7B;
        var lora = new LoraConfig();
        long trainable = lora.CountTrainable(c);
        Assert.Equal(79_953_920L, trainable);
        Assert.Equal(7_621_191_104L, ParameterShapes.Total(c) + trainable);
        Assert.Equal(1.0491, 100.0 * trainable / (ParameterShapes.Total(c) + trainable), 4);
    }

    [Fact]
    public void TinyCreate_IsSeedDeterministic()
    {
        // Guards the from-scratch base that LoRA checkpoints of the tiny model rebuild from its seed.
        using var a = Pretrained.Create(OpenVlaConfig.Tiny, seed: 5);
        using var b = Pretrained.Create(OpenVlaConfig.Tiny, seed: 5);
        var sb = CheckpointIO.StateOf(b);
        Assert.All(CheckpointIO.StateOf(a), kv => Assert.True(kv.Value.allclose(sb[kv.Key], 0, 0), kv.Key));
    }

    [Fact]
    public void Attach_WrapsTargets_KeepsOutputs_AndShapeCountMatchesModel()
    {
        using var m = Pretrained.Create(OpenVlaConfig.Tiny, seed: 3);
        var (px, ids) = Inputs();
        using var before = m.Forward(px, ids);
        var lora = new LoraConfig { R = 8 };
        var paths = LoraModel.Attach(m, lora);
        Assert.Equal(4 * 7, paths.Count);
        Assert.All(paths, p => Assert.StartsWith("language_model.model.layers.", p));
        var trainable = LoraModel.PrepareForTraining(m, LoraModel.DefaultAdapter, trainProjector: false);
        Assert.Equal(lora.CountTrainable(OpenVlaConfig.Tiny), trainable.Sum(t => t.Param.NumberOfElements));
        Assert.Contains(m.named_parameters(), p => p.name == "language_model.model.layers.0.self_attn.q_proj.base_layer.weight" && !p.parameter.requires_grad);
        Assert.Contains(m.named_parameters(), p => p.name == "language_model.model.layers.0.self_attn.q_proj.lora_A.default.weight" && p.parameter.requires_grad);
        using var after = m.Forward(px, ids);
        Assert.True(before.Logits.allclose(after.Logits, 0, 0), "B = 0 must leave the outputs unchanged");
        // With the projector: its parameters join the trainable set and the count.
        var withProj = lora with { ModulesToSave = ["projector"] };
        var t2 = LoraModel.PrepareForTraining(m, LoraModel.DefaultAdapter, trainProjector: true);
        Assert.Equal(withProj.CountTrainable(OpenVlaConfig.Tiny), t2.Sum(t => t.Param.NumberOfElements));
    }

    [Fact]
    public void Adapter_SaveLoad_RoundTrip_PeftLayout_AndMerge()
    {
        using var dir = new TempDir();
        var (px, ids) = Inputs();
        var lora = new LoraConfig { R = 4, Alpha = 8, BaseModelNameOrPath = "tiny" };
        using var a = Pretrained.Create(OpenVlaConfig.Tiny, seed: 5);
        LoraModel.Attach(a, lora, seed: 9);
        RandomizeB(a, "default", 1);
        LoraModel.Save(a, lora, dir.Path);
        using var outA = a.Forward(px, ids);

        var cfg = JsonNode.Parse(File.ReadAllText(dir.File("adapter_config.json")))!;
        Assert.Equal("LORA", (string)cfg["peft_type"]!);
        Assert.Equal(4, (int)cfg["r"]!);
        Assert.Equal(8, (double)cfg["lora_alpha"]!);
        Assert.Equal("none", (string)cfg["bias"]!);
        Assert.Equal("CAUSAL_LM", (string)cfg["task_type"]!);
        Assert.Equal("tiny", (string)cfg["base_model_name_or_path"]!);
        Assert.Equal(LoraConfig.LlamaProjections, cfg["target_modules"]!.AsArray().Select(x => (string)x!));
        using (var f = SafetensorsFile.Open(dir.File("adapter_model.safetensors")))
        {
            Assert.Contains("base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight", f.Entries.Keys);
            Assert.Contains("base_model.model.language_model.model.layers.3.mlp.down_proj.lora_B.weight", f.Entries.Keys);
            Assert.Equal(new long[] { 4, 256 }, f.Entries["base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
            Assert.Equal(4 * 7 * 2, f.Entries.Count);
        }

        using var b = Pretrained.Create(OpenVlaConfig.Tiny, seed: 5);
        using var loaded = LoraModel.Load(b, dir.Path);
        using var outB = b.Forward(px, ids);
        Assert.True(outA.Logits.allclose(outB.Logits, 0, 0), "a reloaded adapter must reproduce the outputs exactly");

        Assert.Equal(28, LoraModel.MergeAndUnload(b));
        Assert.DoesNotContain(b.named_parameters(), p => p.name.Contains("lora_") || p.name.Contains("base_layer"));
        using var outM = b.Forward(px, ids);
        Assert.True(outA.Logits.allclose(outM.Logits, 1e-4, 1e-4), "merged weights must match base + adapter");
        // The merged model saves in the plain HF layout and loads strictly.
        Pretrained.Save(b, dir.File("merged"));
        using var c = Pretrained.Load(dir.File("merged"));
        using var outC = c.Forward(px, ids);
        Assert.True(outM.Logits.allclose(outC.Logits, 0, 0));
    }

    [Fact]
    public void TwoAdapters_OnOneBase_SwitchLikeSeparateModels()
    {
        var (px, ids) = Inputs();
        var lora = new LoraConfig { R = 4 };
        using var shared = Pretrained.Create(OpenVlaConfig.Tiny, seed: 6);
        LoraModel.Attach(shared, lora, "agent0", seed: 1);
        LoraModel.Attach(shared, lora, "agent1", seed: 2);
        RandomizeB(shared, "agent0", 10);
        RandomizeB(shared, "agent1", 20);
        using var solo1 = Pretrained.Create(OpenVlaConfig.Tiny, seed: 6);
        LoraModel.Attach(solo1, lora, "x", seed: 2);
        RandomizeB(solo1, "x", 20);
        LoraModel.SetActive(shared, "agent1");
        using var o1 = shared.Forward(px, ids);
        using var s1 = solo1.Forward(px, ids);
        Assert.True(o1.Logits.allclose(s1.Logits, 0, 0));
        LoraModel.SetActive(shared, "agent0");
        using var o0 = shared.Forward(px, ids);
        Assert.False(o0.Logits.allclose(o1.Logits, 1e-4, 1e-4));
        LoraModel.SetActive(shared, null);
        using var bare = shared.Forward(px, ids);
        using var plain = Pretrained.Create(OpenVlaConfig.Tiny, seed: 6);
        using var op = plain.Forward(px, ids);
        Assert.True(bare.Logits.allclose(op.Logits, 0, 0));
    }
}
