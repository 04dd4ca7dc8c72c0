#!/usr/bin/env python3
"""Independent PyTorch reference for the C# OpenVLA port (tiny preset), in float64, written from the upstream
definitions: timm v0.9.10 timm/models/vision_transformer.py (ViT blocks, LayerScale, CLS and register tokens),
openvla/openvla prismatic/extern/hf/modeling_prismatic.py (fused DINOv2+SigLIP patch features, the 3-layer GELU
projector, the [BOS][patches][prompt] sequence) and Hugging Face transformers v4.40.1
src/transformers/models/llama/modeling_llama.py (RMSNorm, rotate_half RoPE, SiLU-gated MLP).

Weights and inputs are not stored: both sides generate them from the same closed formula (see weight()), so the
committed fixture holds only expected outputs (< 1 MB). Also records numpy's np.digitize action tokens and Pillow's
bicubic resize on formula images.

Run with Debian's interpreter (python3-torch, python3-numpy, python3-pil):
    /usr/bin/python3 scripts/vla/make_parity_fixtures.py tests/fixtures/vla/parity_tiny.safetensors
"""
import json
import math
import struct
import sys

import numpy as np
import torch
from PIL import Image

torch.set_default_dtype(torch.float64)

# ---- the tiny preset (must equal OpenVlaConfig.Tiny) ----
IMG, PATCH = 112, 14
DINO = dict(dim=64, depth=4, heads=4, mlp=256, cls=True, reg=4, ls=True, pool=False)
SIGLIP = dict(dim=96, depth=4, heads=4, mlp=358, cls=False, reg=0, ls=False, pool=True)
H, INTER, LAYERS, HEADS, VOCAB = 256, 688, 4, 4, 4160
RMS_EPS, LN_EPS, THETA = 1e-6, 1e-6, 10000.0
GRID = IMG // PATCH
NP = GRID * GRID


def vit_keys(prefix, c):
    d, m = c["dim"], c["mlp"]
    k = {}
    if c["cls"]:
        k["cls_token"] = (1, 1, d)
    if c["reg"]:
        k["reg_token"] = (1, c["reg"], d)
    k["pos_embed"] = (1, NP, d)
    k["patch_embed.proj.weight"] = (d, 3, PATCH, PATCH)
    k["patch_embed.proj.bias"] = (d,)
    for n in range(c["depth"]):
        b = f"blocks.{n}."
        k[b + "norm1.weight"] = (d,); k[b + "norm1.bias"] = (d,)
        k[b + "attn.qkv.weight"] = (3 * d, d); k[b + "attn.qkv.bias"] = (3 * d,)
        k[b + "attn.proj.weight"] = (d, d); k[b + "attn.proj.bias"] = (d,)
        if c["ls"]:
            k[b + "ls1.scale_factor"] = (d,); k[b + "ls2.scale_factor"] = (d,)
        k[b + "norm2.weight"] = (d,); k[b + "norm2.bias"] = (d,)
        k[b + "mlp.fc1.weight"] = (m, d); k[b + "mlp.fc1.bias"] = (m,)
        k[b + "mlp.fc2.weight"] = (d, m); k[b + "mlp.fc2.bias"] = (d,)
    k["norm.weight"] = (d,); k["norm.bias"] = (d,)
    if c["pool"]:
        k["attn_pool.latent"] = (1, 1, d)
        for nm, o in (("q", d), ("kv", 2 * d), ("proj", d)):
            k[f"attn_pool.{nm}.weight"] = (o, d); k[f"attn_pool.{nm}.bias"] = (o,)
        k["attn_pool.norm.weight"] = (d,); k["attn_pool.norm.bias"] = (d,)
        k["attn_pool.mlp.fc1.weight"] = (m, d); k["attn_pool.mlp.fc1.bias"] = (m,)
        k["attn_pool.mlp.fc2.weight"] = (d, m); k["attn_pool.mlp.fc2.bias"] = (d,)
    return {prefix + a: b for a, b in k.items()}


def all_keys():
    k = {}
    k.update(vit_keys("vision_backbone.featurizer.", DINO))
    k.update(vit_keys("vision_backbone.fused_featurizer.", SIGLIP))
    f = DINO["dim"] + SIGLIP["dim"]
    k["projector.fc1.weight"] = (4 * f, f); k["projector.fc1.bias"] = (4 * f,)
    k["projector.fc2.weight"] = (H, 4 * f); k["projector.fc2.bias"] = (H,)
    k["projector.fc3.weight"] = (H, H); k["projector.fc3.bias"] = (H,)
    k["language_model.model.embed_tokens.weight"] = (VOCAB, H)
    for n in range(LAYERS):
        l = f"language_model.model.layers.{n}."
        for p in "qkvo":
            k[l + f"self_attn.{p}_proj.weight"] = (H, H)
        k[l + "mlp.gate_proj.weight"] = (INTER, H); k[l + "mlp.up_proj.weight"] = (INTER, H)
        k[l + "mlp.down_proj.weight"] = (H, INTER)
        k[l + "input_layernorm.weight"] = (H,); k[l + "post_attention_layernorm.weight"] = (H,)
    k["language_model.model.norm.weight"] = (H,)
    k["language_model.lm_head.weight"] = (VOCAB, H)
    return k


def weight(key, shape, ki):
    """The shared closed-form weights (float64 formula, rounded to float32): same code in ParityTests.cs."""
    n = int(np.prod(shape))
    # hash-like uniform values in [-1, 1): a plain sin(j·c) made lm_head rows near-identical (argmax ties)
    h = np.sin(np.arange(n, dtype=np.float64) * 12.9898 + (ki * 78.233 + 0.5)) * 43758.5453
    s = 2.0 * (h - np.floor(h)) - 1.0
    if len(shape) == 1 and key.endswith("weight") and "norm" in key:
        v = 1.0 + 0.1 * s
    elif len(shape) == 1:
        v = 0.1 * s
    elif "token" in key or "pos_embed" in key or "latent" in key:
        v = 0.5 * s
    else:
        v = s * math.sqrt(3.0 / float(np.prod(shape[1:])))
    return torch.tensor(v.astype(np.float32).astype(np.float64).reshape(shape))


def pixel_values(views):
    n = views * 6 * IMG * IMG
    v = (np.sin(np.arange(n, dtype=np.float64) * 0.013) * 1.5).astype(np.float32)
    return torch.tensor(v.astype(np.float64).reshape(1, views * 6, IMG, IMG))


# ---- reference math ----
def layer_norm(x, w, b, eps=LN_EPS):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def attention(q, k, v, causal):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        t = s.shape[-1]
        s = s.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, -1) @ v


def vit(px, W, p, c):
    n = px.shape[0]
    d, heads = c["dim"], c["heads"]
    # patch embedding as an explicit matmul over 14×14×3 patches (row-major grid)
    patches = px.reshape(n, 3, GRID, PATCH, GRID, PATCH).permute(0, 2, 4, 1, 3, 5).reshape(n, NP, 3 * PATCH * PATCH)
    x = patches @ W[p + "patch_embed.proj.weight"].reshape(d, -1).T + W[p + "patch_embed.proj.bias"]
    x = x + W[p + "pos_embed"]
    pre = []
    if c["cls"]:
        pre.append(W[p + "cls_token"].expand(n, -1, -1))
    if c["reg"]:
        pre.append(W[p + "reg_token"].expand(n, -1, -1))
    x = torch.cat(pre + [x], 1)
    for i in range(c["depth"] - 1):  # output of block depth-2
        b = p + f"blocks.{i}."
        h = layer_norm(x, W[b + "norm1.weight"], W[b + "norm1.bias"])
        qkv = (h @ W[b + "attn.qkv.weight"].T + W[b + "attn.qkv.bias"]).reshape(n, -1, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        a = attention(qkv[0], qkv[1], qkv[2], False).transpose(1, 2).reshape(n, -1, d)
        a = a @ W[b + "attn.proj.weight"].T + W[b + "attn.proj.bias"]
        if c["ls"]:
            a = a * W[b + "ls1.scale_factor"]
        x = x + a
        h = layer_norm(x, W[b + "norm2.weight"], W[b + "norm2.bias"])
        m = gelu(h @ W[b + "mlp.fc1.weight"].T + W[b + "mlp.fc1.bias"]) @ W[b + "mlp.fc2.weight"].T + W[b + "mlp.fc2.bias"]
        if c["ls"]:
            m = m * W[b + "ls2.scale_factor"]
        x = x + m
    return x[:, (1 if c["cls"] else 0) + c["reg"]:]


def projector(x, W):
    h = gelu(x @ W["projector.fc1.weight"].T + W["projector.fc1.bias"])
    h = gelu(h @ W["projector.fc2.weight"].T + W["projector.fc2.bias"])
    return h @ W["projector.fc3.weight"].T + W["projector.fc3.bias"]


def rms(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + RMS_EPS) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def llama(emb, W):
    b, t, _ = emb.shape
    hd = H // HEADS
    inv = 1.0 / THETA ** (torch.arange(0, hd, 2) / hd)
    fr = torch.outer(torch.arange(t, dtype=torch.float64), inv)
    e = torch.cat([fr, fr], -1)
    cos, sin = e.cos(), e.sin()
    x = emb
    for i in range(LAYERS):
        l = f"language_model.model.layers.{i}."
        h = rms(x, W[l + "input_layernorm.weight"])
        q, k, v = [(h @ W[l + f"self_attn.{p}_proj.weight"].T).reshape(b, t, HEADS, hd).transpose(1, 2) for p in "qkv"]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = attention(q, k, v, True).transpose(1, 2).reshape(b, t, H) @ W[l + "self_attn.o_proj.weight"].T
        x = x + a
        h = rms(x, W[l + "post_attention_layernorm.weight"])
        g = h @ W[l + "mlp.gate_proj.weight"].T
        u = h @ W[l + "mlp.up_proj.weight"].T
        x = x + ((g * torch.sigmoid(g)) * u) @ W[l + "mlp.down_proj.weight"].T
    x = rms(x, W["language_model.model.norm.weight"])
    return x @ W["language_model.lm_head.weight"].T


def forward(W, px, ids):
    views = px.shape[1] // 6
    px = px.reshape(views, 6, IMG, IMG)
    dino = vit(px[:, 0:3], W, "vision_backbone.featurizer.", DINO)
    sig = vit(px[:, 3:6], W, "vision_backbone.fused_featurizer.", SIGLIP)
    proj = projector(torch.cat([dino, sig], 2), W).reshape(1, views * NP, H)
    emb = W["language_model.model.embed_tokens.weight"][torch.tensor(ids)].unsqueeze(0)
    seq = torch.cat([emb[:, :1], proj, emb[:, 1:]], 1)
    return dino, sig, proj, llama(seq, W)


def save_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt", "generator": "scripts/vla/make_parity_fixtures.py"}}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("uint8"): "U8"}[arr.dtype]
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def formula_image(w, h, seed):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 7 + y * 3 + seed) % 256, (x * y // 5 + 40 * seed) % 256, ((x ^ y) * 5 + seed) % 256], -1)
    return img.astype(np.uint8)


def main(out):
    keys = all_keys()
    W = {k: weight(k, s, i) for i, (k, s) in enumerate(sorted(keys.items()))}
    ids = [1, 15, 200, 3000, 47, 999, 4095, 29, 3, 100]
    px = pixel_values(2)
    with torch.no_grad():
        dino, sig, proj, logits = forward(W, px, ids)
        n_img = proj.shape[1]
        text_logits = logits[0, n_img:]  # positions of BOS? no: index n_img = last image token; rows n_img.. cover the text
        # greedy decoding by full recomputation
        gen, cur = [], list(ids)
        for _ in range(8):
            _, _, _, lg = forward(W, px, cur)
            nxt = int(torch.argmax(lg[0, -1]))
            gen.append(nxt)
            cur.append(nxt)
        # loss on the last 4 text tokens (labels = ids with the rest −100), HF shift
        labels = [-100] * (len(ids) - 4) + ids[-4:]
        full = torch.tensor([labels[0]] + [-100] * n_img + labels[1:])
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], full[1:], ignore_index=-100)
        one_view = forward(W, px[:, :6], ids)[3][0, -1]
    acts = np.array([-1.5, -1.0, -0.99, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.5, 0.9921, 0.999, 1.0, 2.0] +
                    list(np.linspace(-1, 1, 256)[1:-1:17]), dtype=np.float32)
    bins = np.linspace(-1, 1, 256)
    act_tokens = 32000 - np.digitize(np.clip(acts, -1, 1), bins)
    centers = (bins[:-1] + bins[1:]) / 2
    dec = centers[np.clip(32000 - act_tokens - 1, 0, 254)]
    up = np.asarray(Image.fromarray(formula_image(50, 40, 1)).resize((112, 112), Image.BICUBIC))
    down = np.asarray(Image.fromarray(formula_image(300, 200, 2)).resize((112, 112), Image.BICUBIC))
    f32 = lambda t: t.detach().numpy().astype(np.float32)
    save_safetensors(out, {
        "input_ids": np.array(ids, dtype=np.int64),
        "dino_features": f32(dino),            # [views, 64, 64]
        "siglip_features": f32(sig),           # [views, 64, 96]
        "projected": f32(proj),                # [1, 128, 256]
        "text_logits": f32(text_logits),       # [len(ids), vocab]: rows n_img .. end
        "argmax_all": logits[0].argmax(-1).numpy().astype(np.int64),
        "greedy_tokens": np.array(gen, dtype=np.int64),
        "loss": np.array([float(loss)], dtype=np.float32),
        "one_view_last_logits": f32(one_view),
        "actions": acts,
        "action_tokens": act_tokens.astype(np.int64),
        "action_decoded": dec.astype(np.float32),
        "resize_up": up, "resize_down": down,
    })
    print(f"wrote {out}: greedy {gen}, loss {float(loss):.6f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/vla/parity_tiny.safetensors")
