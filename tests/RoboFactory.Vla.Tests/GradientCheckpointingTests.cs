using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
using RoboFactory.Vla.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboFactory.Vla.Tests;

/// <summary>
/// --gradient-checkpointing recomputes activations in backward: the loss and every trainable parameter's gradient must
/// equal the run without it, for the token loss (openvla) and the bidirectional parallel pass (openvla-oft), for a full
/// fine-tune and for LoRA with dropout off and on (the recomputation must replay the dropout masks).
/// </summary>
[Collection(GlobalTorchRngCollection.Name)]
public class GradientCheckpointingTests
{
    static (double Loss, Dictionary<string, Tensor> Grads) LossAndGrads(double? loraDropout, bool parallel, bool checkpointing)
    {
        var m = Pretrained.Create(OpenVlaConfig.TinyAt(28), seed: 5);
        List<(string Name, Parameter P)> trainable;
        if (loraDropout is double d)
        {
            LoraModel.Attach(m, new LoraConfig { R = 4, Alpha = 8, Dropout = d, TargetModules = LoraConfig.LlamaProjections }, seed: 9);
            trainable = LoraModel.PrepareForTraining(m, LoraModel.DefaultAdapter, trainProjector: true).Select(x => (x.Name, x.Param)).ToList();
        }
        else
        {
            foreach (var (_, p) in m.named_parameters()) p.requires_grad = true;
            trainable = m.named_parameters().Select(x => (x.name, x.parameter)).ToList();
        }
        m.train();
        m.SetGradientCheckpointing(checkpointing);
        var px = torch.randn(2, 6, 28, 28, generator: new Generator(2));
        var ids = torch.tensor(new long[] { 1, 5, 6, 3900, 3901, 2, 1, 8, 3950, 3951, 2, 4096 }).reshape(2, 6);
        torch.manual_seed(11); // the dropout masks
        Tensor loss;
        if (parallel)
        {
            var zero = torch.zeros(2, 6, ScalarType.Bool);
            zero[.., 3..5] = torch.tensor(true);
            var (hidden, prefix) = m.ForwardParallel(px, ids, ids != 4096, zero, null, causal: false);
            loss = hidden[.., (prefix + 3)..(prefix + 5)].abs().mean();
        }
        else
        {
            var labels = ids.clone();
            labels[.., ..3] = torch.tensor(-100L);
            loss = m.Forward(px, ids, ids != 4096, labels).Loss!;
        }
        loss.backward();
        var grads = trainable.Where(x => x.P.grad is not null).ToDictionary(x => x.Name, x => x.P.grad!.clone());
        return (loss.item<float>(), grads);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(null, true)]
    [InlineData(0.0, false)]
    [InlineData(0.0, true)]
    [InlineData(0.1, false)]
    [InlineData(0.1, true)]
    public void LossAndEveryGradient_EqualTheRunWithoutIt(double? loraDropout, bool parallel)
    {
        var (loss, grads) = LossAndGrads(loraDropout, parallel, checkpointing: false);
        var (loss2, grads2) = LossAndGrads(loraDropout, parallel, checkpointing: true);
        Assert.Equal(loss, loss2, 1e-6 * Math.Abs(loss));
        Assert.Equal(grads.Keys.Order(), grads2.Keys.Order());
        Assert.True(grads.Count > (loraDropout is null ? 50 : 8), $"{grads.Count} gradients");
        foreach (var (name, g) in grads)
        {
            double scale = Math.Max(g.abs().max().item<float>(), 1e-12), diff = (g - grads2[name]).abs().max().item<float>();
            Assert.True(diff <= 1e-5 * scale, $"{name}: max |Δgrad| {diff:g3}, max |grad| {scale:g3}");
        }
    }

    /// <summary>
    /// Peak RSS growth of one forward + backward of the tiny model (full fine-tune, 3 views at 112 px, batch 16) inside
    /// a dispose scope, as the trainer runs it: freed heap pages are handed back and the peak restarted first.
    /// </summary>
    static long StepPeakBytes(bool checkpointing)
    {
        using var m = Pretrained.Create(OpenVlaConfig.TinyAt(112), seed: 5);
        foreach (var (_, p) in m.named_parameters()) p.requires_grad = true;
        m.train();
        m.SetGradientCheckpointing(checkpointing);
        const int batch = 16, len = 40;
        var ids = new long[batch * len];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % len == 0 ? 1 : i % len >= 32 ? 3840 + i % 200 : 5 + i % 50;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(ProcessMemory.Trim(), "malloc_trim unavailable");
        Assert.True(ProcessMemory.ResetPeak(), "/proc/self/clear_refs not writable");
        long before = ProcessMemory.RssBytes();
        using (var scope = NewDisposeScope())
        {
            var px = torch.randn(batch, 18, 112, 112, generator: new Generator(2));
            var input = torch.tensor(ids).reshape(batch, len);
            var labels = input.clone();
            labels[.., ..32] = torch.tensor(-100L);
            m.Forward(px, input, null, labels).Loss!.backward();
        }
        return ProcessMemory.PeakRssBytes() - before;
    }

    [Fact]
    public void PeakMemoryOfALargeBatchStep_IsLowerWithIt()
    {
        long with = StepPeakBytes(checkpointing: true), without = StepPeakBytes(checkpointing: false);
        Assert.True(without > 100L << 20, $"without checkpointing the step grew RSS by only {without >> 20} MiB: the measurement is not seeing activations");
        Assert.True(with < 0.8 * without, // measured here: 504 against 823 MiB
             $"peak RSS growth {with >> 20} MiB with checkpointing, {without >> 20} MiB without");
    }

    /// <summary>
    /// bf16 end to end on a pretrained-style base (the 7B recipe's `--dtype bf16 --gradient-checkpointing`): frozen
    /// weights stay bf16, the LoRA weights and their gradients are fp32, the loss is computed from fp32 logits, and
    /// loss and gradients agree with the same step in fp32 to bf16 precision.
    /// </summary>
    [Fact]
    public void Bf16Base_TrainsFp32Lora_AndAgreesWithTheFp32Step()
    {
        (Tensor Loss, Dictionary<string, Tensor> Grads, ScalarType FrozenType) Step(ScalarType dtype)
        {
            using var tmp = new TempDir();
            using (var created = Pretrained.Create(OpenVlaConfig.TinyAt(28), seed: 5)) Pretrained.Save(created, tmp.Path);
            var m = Pretrained.Load(tmp.Path, dtype: dtype); // as the trainer loads a pretrained base
            LoraModel.Attach(m, new LoraConfig { R = 4, Alpha = 8, Dropout = 0, TargetModules = LoraConfig.LlamaProjections }, seed: 9);
            var trainable = LoraModel.PrepareForTraining(m, LoraModel.DefaultAdapter, trainProjector: false);
            m.train();
            m.SetGradientCheckpointing(true);
            var px = torch.randn(2, 18, 28, 28, generator: new Generator(2));
            var ids = torch.tensor(new long[] { 1, 5, 6, 3900, 3901, 2, 1, 8, 3950, 3951, 2, 4096 }).reshape(2, 6);
            var labels = ids.clone();
            labels[.., ..3] = torch.tensor(-100L);
            var loss = m.Forward(px, ids, ids != 4096, labels).Loss!;
            loss.backward();
            foreach (var (name, p) in trainable)
            {
                Assert.Equal(ScalarType.Float32, p.dtype);
                Assert.Equal(ScalarType.Float32, p.grad!.dtype);
            }
            var frozen = m.named_parameters().First(x => x.name.EndsWith("layers.0.mlp.up_proj.base_layer.weight", StringComparison.Ordinal) || x.name.EndsWith("layers.0.mlp.up_proj.weight", StringComparison.Ordinal));
            return (loss.detach(), trainable.ToDictionary(x => x.Name, x => x.Param.grad!.clone()), frozen.parameter.dtype);
        }
        var (loss32, grads32, type32) = Step(ScalarType.Float32);
        var (loss16, grads16, type16) = Step(ScalarType.BFloat16);
        Assert.Equal(ScalarType.Float32, type32);
        Assert.Equal(ScalarType.BFloat16, type16);
        Assert.Equal(ScalarType.Float32, loss16.dtype);
        float l32 = loss32.item<float>(), l16 = loss16.item<float>();
        Assert.True(Math.Abs(l16 - l32) < 0.02 * Math.Abs(l32), $"loss bf16 {l16}, fp32 {l32}");
        var a = torch.cat(grads32.Keys.Order().Select(k => grads32[k].flatten()).ToArray());
        var b = torch.cat(grads32.Keys.Order().Select(k => grads16[k].flatten()).ToArray());
        double cos = (a * b).sum().item<float>() / (a.norm().item<float>() * b.norm().item<float>());
        Assert.True(cos > 0.99, $"cosine of the bf16 and fp32 LoRA gradients {cos:0.0000}");
    }
}
