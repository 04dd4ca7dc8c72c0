using RoboFactory.Vla.Policies.OpenVla;
using RoboFactory.Vla.Config;

namespace RoboFactory.Vla.Model;

/// <summary>A parameter's checkpoint key, shape and the component it belongs to.</summary>
public sealed record ParameterShape(string Key, long[] Shape, string Component)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"{Key} [{string.Join(",", Shape)}]";
}

/// <summary>
/// The checkpoint key → shape list computed from the config alone (no allocation), in the HF state_dict naming.
/// <see cref="OpenVlaForActionPrediction"/> registers exactly these parameters (a test keeps the two in sync).
/// </summary>
public static class ParameterShapes
{
    public const string DinoPrefix = "vision_backbone.featurizer.";
    public const string SiglipPrefix = "vision_backbone.fused_featurizer.";

    public static List<ParameterShape> Enumerate(OpenVlaConfig c)
    {
        var list = new List<ParameterShape>();
        AddVit(list, c.Dino, DinoPrefix, "dino");
        AddVit(list, c.Siglip, SiglipPrefix, "siglip");
        long f = c.FusedVisionDim, p = c.ProjectorHidden, h = c.Text.HiddenSize;
        void P(string k, string comp, params long[] s) => list.Add(new ParameterShape(k, s, comp));
        P("projector.fc1.weight", "projector", p, f); P("projector.fc1.bias", "projector", p);
        P("projector.fc2.weight", "projector", h, p); P("projector.fc2.bias", "projector", h);
        P("projector.fc3.weight", "projector", h, h); P("projector.fc3.bias", "projector", h);
        var t = c.Text;
        long v = t.VocabSize, i = t.IntermediateSize;
        P("language_model.model.embed_tokens.weight", "llm", v, h);
        for (int n = 0; n < t.NumHiddenLayers; n++)
        {
            string L = $"language_model.model.layers.{n}.";
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) P(L + $"self_attn.{proj}.weight", "llm", h, h);
            P(L + "mlp.gate_proj.weight", "llm", i, h);
            P(L + "mlp.up_proj.weight", "llm", i, h);
            P(L + "mlp.down_proj.weight", "llm", h, i);
            P(L + "input_layernorm.weight", "llm", h);
            P(L + "post_attention_layernorm.weight", "llm", h);
        }
        P("language_model.model.norm.weight", "llm", h);
        P("language_model.lm_head.weight", "llm", v, h);
        return list;
    }

    static void AddVit(List<ParameterShape> list, VitConfig v, string prefix, string comp)
    {
        long d = v.EmbedDim, m = v.MlpHidden;
        void P(string k, params long[] s) => list.Add(new ParameterShape(prefix + k, s, comp));
        if (v.ClassToken) P("cls_token", 1, 1, d);
        if (v.RegisterTokens > 0) P("reg_token", 1, v.RegisterTokens, d);
        P("pos_embed", 1, v.NumPatches, d);
        P("patch_embed.proj.weight", d, 3, v.PatchSize, v.PatchSize);
        P("patch_embed.proj.bias", d);
        for (int n = 0; n < v.Depth; n++)
        {
            string b = $"blocks.{n}.";
            P(b + "norm1.weight", d); P(b + "norm1.bias", d);
            P(b + "attn.qkv.weight", 3 * d, d); P(b + "attn.qkv.bias", 3 * d);
            P(b + "attn.proj.weight", d, d); P(b + "attn.proj.bias", d);
            if (v.LayerScale) P(b + "ls1.scale_factor", d);
            P(b + "norm2.weight", d); P(b + "norm2.bias", d);
            P(b + "mlp.fc1.weight", m, d); P(b + "mlp.fc1.bias", m);
            P(b + "mlp.fc2.weight", d, m); P(b + "mlp.fc2.bias", d);
            if (v.LayerScale) P(b + "ls2.scale_factor", d);
        }
        P("norm.weight", d); P("norm.bias", d);
        if (v.AttnPool)
        {
            P("attn_pool.latent", 1, 1, d);
            P("attn_pool.q.weight", d, d); P("attn_pool.q.bias", d);
            P("attn_pool.kv.weight", 2 * d, d); P("attn_pool.kv.bias", 2 * d);
            P("attn_pool.proj.weight", d, d); P("attn_pool.proj.bias", d);
            P("attn_pool.norm.weight", d); P("attn_pool.norm.bias", d);
            P("attn_pool.mlp.fc1.weight", m, d); P("attn_pool.mlp.fc1.bias", m);
            P("attn_pool.mlp.fc2.weight", d, m); P("attn_pool.mlp.fc2.bias", d);
        }
    }

    /// <summary>Per-component totals in a fixed order: dino, siglip, projector, llm.</summary>
    public static IReadOnlyList<(string Component, long Params)> Summary(OpenVlaConfig c)
    {
        var all = Enumerate(c);
        return new[] { "dino", "siglip", "projector", "llm" }
            .Select(k => (k, all.Where(p => p.Component == k).Sum(p => p.Count))).ToList();
    }

    public static long Total(OpenVlaConfig c) => Enumerate(c).Sum(p => p.Count);
}
