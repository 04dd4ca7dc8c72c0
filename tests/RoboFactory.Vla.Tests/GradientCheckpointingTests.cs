using RoboFactory.Vla.Config;
using RoboFactory.Vla.Lora;
using RoboFactory.Vla.Model;
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
}
