using RoboFactory.Vla.Policies.OpenVla;
using System.Text.Json.Nodes;
using RoboFactory.Vla.Config;
using RoboFactory.Vla.Model;

namespace RoboFactory.Vla.Tests;

public class ConfigTests
{
    [Fact]
    public void OpenVla7B_TotalAndComponentCounts_MatchSpec()
    {
        var c = OpenVlaConfig.OpenVla7B;
        Assert.Equal(7_541_237_184L, ParameterShapes.Total(c));
        var s = ParameterShapes.Summary(c).ToDictionary(x => x.Component, x => x.Params);
        Assert.Equal(303_230_976L, s["dino"]);
        Assert.Equal(427_680_704L, s["siglip"]);
        Assert.Equal(71_385_600L, s["projector"]);
        Assert.Equal(6_738_939_904L, s["llm"]);
        Assert.Equal(15_082_474_368L, 2 * ParameterShapes.Total(c)); // bf16 bytes
    }

    /// <summary>The key → shape list of spec §8, written out independently of ParameterShapes.</summary>
    static Dictionary<string, long[]> Spec7BKeys()
    {
        var d = new Dictionary<string, long[]>();
        const string D = "vision_backbone.featurizer.", S = "vision_backbone.fused_featurizer.";
        d[D + "cls_token"] = [1, 1, 1024]; d[D + "reg_token"] = [1, 4, 1024]; d[D + "pos_embed"] = [1, 256, 1024];
        d[D + "patch_embed.proj.weight"] = [1024, 3, 14, 14]; d[D + "patch_embed.proj.bias"] = [1024];
        for (int n = 0; n < 24; n++)
        {
            string b = D + $"blocks.{n}.";
            d[b + "norm1.weight"] = [1024]; d[b + "norm1.bias"] = [1024];
            d[b + "attn.qkv.weight"] = [3072, 1024]; d[b + "attn.qkv.bias"] = [3072];
            d[b + "attn.proj.weight"] = [1024, 1024]; d[b + "attn.proj.bias"] = [1024];
            d[b + "ls1.scale_factor"] = [1024];
            d[b + "norm2.weight"] = [1024]; d[b + "norm2.bias"] = [1024];
            d[b + "mlp.fc1.weight"] = [4096, 1024]; d[b + "mlp.fc1.bias"] = [4096];
            d[b + "mlp.fc2.weight"] = [1024, 4096]; d[b + "mlp.fc2.bias"] = [1024];
            d[b + "ls2.scale_factor"] = [1024];
        }
        d[D + "norm.weight"] = [1024]; d[D + "norm.bias"] = [1024];
        d[S + "pos_embed"] = [1, 256, 1152];
        d[S + "patch_embed.proj.weight"] = [1152, 3, 14, 14]; d[S + "patch_embed.proj.bias"] = [1152];
        for (int n = 0; n < 27; n++)
        {
            string b = S + $"blocks.{n}.";
            d[b + "norm1.weight"] = [1152]; d[b + "norm1.bias"] = [1152];
            d[b + "attn.qkv.weight"] = [3456, 1152]; d[b + "attn.qkv.bias"] = [3456];
            d[b + "attn.proj.weight"] = [1152, 1152]; d[b + "attn.proj.bias"] = [1152];
            d[b + "norm2.weight"] = [1152]; d[b + "norm2.bias"] = [1152];
            d[b + "mlp.fc1.weight"] = [4304, 1152]; d[b + "mlp.fc1.bias"] = [4304];
            d[b + "mlp.fc2.weight"] = [1152, 4304]; d[b + "mlp.fc2.bias"] = [1152];
        }
        d[S + "norm.weight"] = [1152]; d[S + "norm.bias"] = [1152];
        d[S + "attn_pool.latent"] = [1, 1, 1152];
        d[S + "attn_pool.q.weight"] = [1152, 1152]; d[S + "attn_pool.q.bias"] = [1152];
        d[S + "attn_pool.kv.weight"] = [2304, 1152]; d[S + "attn_pool.kv.bias"] = [2304];
        d[S + "attn_pool.proj.weight"] = [1152, 1152]; d[S + "attn_pool.proj.bias"] = [1152];
        d[S + "attn_pool.norm.weight"] = [1152]; d[S + "attn_pool.norm.bias"] = [1152];
        d[S + "attn_pool.mlp.fc1.weight"] = [4304, 1152]; d[S + "attn_pool.mlp.fc1.bias"] = [4304];
        d[S + "attn_pool.mlp.fc2.weight"] = [1152, 4304]; d[S + "attn_pool.mlp.fc2.bias"] = [1152];
        d["projector.fc1.weight"] = [8704, 2176]; d["projector.fc1.bias"] = [8704];
        d["projector.fc2.weight"] = [4096, 8704]; d["projector.fc2.bias"] = [4096];
        d["projector.fc3.weight"] = [4096, 4096]; d["projector.fc3.bias"] = [4096];
        d["language_model.model.embed_tokens.weight"] = [32064, 4096];
        for (int n = 0; n < 32; n++)
        {
            string l = $"language_model.model.layers.{n}.";
            foreach (var p in new[] { "q", "k", "v", "o" }) d[l + $"self_attn.{p}_proj.weight"] = [4096, 4096];
            d[l + "mlp.gate_proj.weight"] = [11008, 4096]; d[l + "mlp.up_proj.weight"] = [11008, 4096];
            d[l + "mlp.down_proj.weight"] = [4096, 11008];
            d[l + "input_layernorm.weight"] = [4096]; d[l + "post_attention_layernorm.weight"] = [4096];
        }
        d["language_model.model.norm.weight"] = [4096];
        d["language_model.lm_head.weight"] = [32064, 4096];
        return d;
    }

    [Fact]
    public void OpenVla7B_FullKeyShapeList_MatchesSpec()
    {
        var expected = Spec7BKeys();
        var actual = ParameterShapes.Enumerate(OpenVlaConfig.OpenVla7B);
        Assert.Equal(actual.Count, actual.Select(p => p.Key).Distinct().Count());
        var missing = expected.Keys.Except(actual.Select(a => a.Key)).ToList();
        var extra = actual.Select(a => a.Key).Except(expected.Keys).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: {string.Join(", ", missing.Take(10))}; extra: {string.Join(", ", extra.Take(10))}");
        foreach (var p in actual) Assert.True(expected[p.Key].SequenceEqual(p.Shape), $"{p.Key}: [{string.Join(",", p.Shape)}] vs spec [{string.Join(",", expected[p.Key])}]");
        Assert.Equal(7_541_237_184L, expected.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    [Fact]
    public void TinyModule_RegistersExactlyTheShapeOnlyList()
    {
        using var m = new OpenVlaForActionPrediction(OpenVlaConfig.Tiny);
        var actual = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var expected = ParameterShapes.Enumerate(OpenVlaConfig.Tiny);
        Assert.Equal(expected.Count, actual.Count);
        foreach (var p in expected)
        {
            Assert.True(actual.ContainsKey(p.Key), $"module lacks {p.Key}; has e.g. {string.Join(", ", actual.Keys.Take(5))}");
            Assert.Equal(p.Shape, actual[p.Key]);
        }
        long total = ParameterShapes.Total(OpenVlaConfig.Tiny);
        Assert.InRange(total, 2_000_000, 10_000_000);
    }

    [Fact]
    public void Json_RoundTrips_Presets()
    {
        foreach (var c in new[] { OpenVlaConfig.Tiny, OpenVlaConfig.OpenVla7B })
        {
            var path = Path.GetTempFileName();
            try
            {
                ConfigJson.Write(c with { NormStats = new Dictionary<string, ActionStatistics> { ["d"] = new() { Q01 = [-1, 0], Q99 = [1, 2], Mask = [true, false] } } }, path);
                var back = ConfigJson.Read(path);
                Assert.Equal(c.Dino, back.Dino with { Mean = c.Dino.Mean, Std = c.Dino.Std });
                Assert.Equal(c.Dino.Mean, back.Dino.Mean);
                Assert.Equal(c.Siglip with { Mean = [], Std = [] }, back.Siglip with { Mean = [], Std = [] });
                Assert.Equal(c.Text, back.Text);
                Assert.Equal(ParameterShapes.Total(c), ParameterShapes.Total(back));
                Assert.Equal(new[] { true, false }, back.NormStats["d"].Mask);
            }
            finally { File.Delete(path); }
        }
    }

    [Fact]
    public void HfStyleDiffOnlyConfig_ParsesAs7B()
    {
        // The released config.json serialises only the diff from LlamaConfig defaults (spec §5.1, §8).
        var json = """
        {"arch_specifier":"no-align+fused-gelu-mlp","architectures":["OpenVLAForActionPrediction"],
         "auto_map":{"AutoConfig":"configuration_prismatic.OpenVLAConfig"},"hf_llm_id":"meta-llama/Llama-2-7b-hf",
         "image_resize_strategy":"resize-naive","image_sizes":[224,224],"llm_backbone_id":"llama2-7b-pure","llm_max_length":2048,
         "model_type":"openvla","n_action_bins":256,"output_projector_states":false,"pad_to_multiple_of":64,"pad_token_id":32000,
         "text_config":{"model_type":"llama","pad_token_id":32000,"torch_dtype":"bfloat16","vocab_size":32064},
         "timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],
         "timm_override_act_layers":[null,null],"torch_dtype":"bfloat16","transformers_version":"4.40.1",
         "use_fused_vision_backbone":true,"vision_backbone_id":"dinosiglip-vit-so-224px",
         "norm_stats":{"bridge_orig":{"action":{"mask":[true,true,true,true,true,true,false],
            "q01":[-0.02873,-0.04170,-0.02609,-0.08092,-0.09289,-0.20718,0.0],
            "q99":[0.02831,0.04086,0.04016,0.08192,0.07793,0.20383,1.0]},"num_transitions":1,"num_trajectories":1}}}
        """;
        var c = ConfigJson.Parse(JsonNode.Parse(json)!.AsObject());
        Assert.Equal(7_541_237_184L, ParameterShapes.Total(c));
        Assert.Equal(1e-6, c.Text.RmsNormEps);
        Assert.Equal(31744, c.ActionTokenBegin);
        Assert.Equal(7, c.NormStats["bridge_orig"].Dimension);
    }

    [Theory]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"frobnicate":1}""", "unknown field(s) frobnicate")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"text_config":{"hidden_size":4001}}""", "not divisible")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"text_config":{"vocab_size":32001}}""", "not a multiple")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"image_sizes":[224,384]}""", "image_sizes[1]")]
    [InlineData("""{"timm_model_ids":["vit_base_patch16_224","vit_so400m_patch14_siglip_224"]}""", "unknown timm model id")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"pad_token_id":5}""", "disagrees")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"text_config":{"pad_token_id":31999}}""", "padding rows")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"use_fused_vision_backbone":false}""", "not supported")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"text_config":{"num_key_value_heads":8}}""", "GQA")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"norm_stats":{"x":{"action":{"q01":[0,0],"q99":[1]}}}}""", "q99 has 1")]
    [InlineData("""{"timm_model_ids":["vit_large_patch14_reg4_dinov2.lvd142m","vit_so400m_patch14_siglip_224"],"text_config":{"hidden_act":"gelu"}}""", "silu")]
    public void BadConfigs_GiveClearErrors(string json, string expectedFragment)
    {
        var e = Assert.Throws<VlaConfigException>(() => ConfigJson.Parse(JsonNode.Parse(json)!.AsObject()));
        Assert.Contains(expectedFragment, e.Message);
    }

    [Fact]
    public void Resolve_UnknownName_IsClear()
    {
        var e = Assert.Throws<VlaConfigException>(() => OpenVlaConfig.Resolve("no-such-model"));
        Assert.Contains("not a preset", e.Message);
    }
}
