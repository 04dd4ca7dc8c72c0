#!/usr/bin/env python3
"""Training-speed reference for `robofactory bench train --torch`: the tiny OpenVLA preset (OpenVlaConfig.TinyAt) in
plain PyTorch, trained with the same step as our VlaTrainer (full fine-tune): forward with the LM head on the label
positions only, cross-entropy over the action tokens + EOS, backward, clip_grad_norm_(1.0), AdamW (weight decay 0.01)
with the learning rate of a linear-warmup + cosine schedule, zero_grad.

Only the compute step is timed, on one synthetic batch of the trainer's shapes (no data pipeline):
pixel_values [B, 6*views, S, S], input_ids [B, L] = BOS + prompt + state tokens + action tokens + EOS, labels -100
except the action tokens and EOS, attention mask all ones (one instruction, no padding). The model structure (module
and parameter names, the unused last ViT block, final norms and SigLIP's attention-pool head) follows
scripts/vla/make_parity_fixtures.py and src/RoboFactory.Vla/Model, so the parameter count equals ours.

Prints one JSON line on stdout: samples/s and process CPU seconds per timed step, the mean phase times (forward, backward, clip, optimizer),
the step-0 loss, the parameter count and the shapes.

Run with Debian's interpreter (python3-torch) and OpenBLAS's OpenMP build, as `bench train --torch` does:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
        /usr/bin/python3 scripts/vla/tiny_train_torch.py --threads 2 --batch-size 8 --steps 10
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

# OpenBLAS (Debian's torch calls it for fp32 matmuls) sizes its own thread pool when it loads, not from
# torch.set_num_threads: give it the same count before torch is imported.
for _i, _a in enumerate(sys.argv):
    _t = _a.split("=", 1)[1] if _a.startswith("--threads=") else sys.argv[_i + 1] if _a == "--threads" and _i + 1 < len(sys.argv) else None
    if _t is not None:
        os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _t

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ---- the tiny preset (must equal OpenVlaConfig.Tiny; the image size is TinyAt's argument) ----
PATCH = 14
DINO = dict(dim=64, depth=4, heads=4, mlp=256, cls=True, reg=4, ls=True, pool=False)
SIGLIP = dict(dim=96, depth=4, heads=4, mlp=358, cls=False, reg=0, ls=False, pool=True)
H, INTER, LAYERS, HEADS, VOCAB = 256, 688, 4, 4, 4160
BASE_VOCAB, N_BINS = 4096, 256          # vocab - pad_to_multiple_of; action ids are the last 256 of the base vocab
BOS, EOS = 1, 2
RMS_EPS, LN_EPS, THETA = 1e-6, 1e-6, 10000.0
INSTRUCTION = "lift the barrier"        # configs/table/lift_barrier.yaml (the quickstart task)


# ---- timm ViT pieces (timm 0.9 names) ----
class VitAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) * (1.0 / math.sqrt(c // self.heads)), -1) @ v
        return self.proj(a.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU, as timm


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale_factor = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x):
        return x * self.scale_factor


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.norm1 = nn.LayerNorm(d, eps=LN_EPS)
        self.attn = VitAttention(d, c["heads"])
        self.norm2 = nn.LayerNorm(d, eps=LN_EPS)
        self.mlp = Mlp(d, c["mlp"])
        self.ls1 = LayerScale(d) if c["ls"] else nn.Identity()
        self.ls2 = LayerScale(d) if c["ls"] else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, stride=PATCH)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class AttentionPoolLatent(nn.Module):
    """SigLIP's MAP head: in the checkpoint (and the parameter count), never run by OpenVLA."""

    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.latent = nn.Parameter(torch.zeros(1, 1, d))
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        self.mlp = Mlp(d, c["mlp"])


class VisionTransformer(nn.Module):
    def __init__(self, c, image_size):
        super().__init__()
        self.c = c
        d = c["dim"]
        n_patches = (image_size // PATCH) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if c["cls"] else None
        self.reg_token = nn.Parameter(torch.zeros(1, c["reg"], d)) if c["reg"] else None
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches, d))
        self.patch_embed = PatchEmbed(d)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        self.attn_pool = AttentionPoolLatent(c) if c["pool"] else None

    def forward(self, px):
        x = self.patch_embed(px) + self.pos_embed  # no_embed_class: pos_embed on the patches only
        n = x.shape[0]
        pre = [t.expand(n, -1, -1) for t in (self.cls_token, self.reg_token) if t is not None]
        if pre:
            x = torch.cat(pre + [x], 1)
        for blk in self.blocks[: self.c["depth"] - 1]:  # OpenVLA takes the output of block depth-2
            x = blk(x)
        return x[:, (1 if self.c["cls"] else 0) + self.c["reg"]:]


class PrismaticVisionBackbone(nn.Module):
    def __init__(self, image_size):
        super().__init__()
        self.featurizer = VisionTransformer(DINO, image_size)
        self.fused_featurizer = VisionTransformer(SIGLIP, image_size)

    def forward(self, px):
        return torch.cat([self.featurizer(px[:, 0:3]), self.fused_featurizer(px[:, 3:6])], 2)


class PrismaticProjector(nn.Module):
    def __init__(self):
        super().__init__()
        f = DINO["dim"] + SIGLIP["dim"]
        self.fc1 = nn.Linear(f, 4 * f)
        self.fc2 = nn.Linear(4 * f, H)
        self.fc3 = nn.Linear(H, H)

    def forward(self, x):
        return self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(x)))))


# ---- HF Llama pieces ----
class LlamaRMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + RMS_EPS))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class LlamaAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(H, H, bias=False) for _ in range(4))

    def forward(self, x, cos, sin, causal):
        b, t, _ = x.shape
        hd = H // HEADS
        q, k, v = (p(x).view(b, t, HEADS, hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        a = torch.softmax(s.masked_fill(causal, float("-inf")), -1) @ v
        return self.o_proj(a.transpose(1, 2).reshape(b, t, H))


class LlamaMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(H, INTER, bias=False)
        self.up_proj = nn.Linear(H, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, H, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = LlamaAttention()
        self.mlp = LlamaMLP()
        self.input_layernorm = LlamaRMSNorm(H)
        self.post_attention_layernorm = LlamaRMSNorm(H)

    def forward(self, x, cos, sin, causal):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, H)
        self.layers = nn.ModuleList([LlamaDecoderLayer() for _ in range(LAYERS)])
        self.norm = LlamaRMSNorm(H)

    def forward(self, emb):
        t = emb.shape[1]
        hd = H // HEADS
        inv = 1.0 / THETA ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        fr = torch.outer(torch.arange(t, dtype=torch.float64), inv).float()
        e = torch.cat([fr, fr], -1)
        cos, sin = e.cos(), e.sin()
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        x = emb
        for layer in self.layers:
            x = layer(x, cos, sin, causal)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = LlamaModel()
        self.lm_head = nn.Linear(H, VOCAB, bias=False)


class OpenVla(nn.Module):
    def __init__(self, image_size):
        super().__init__()
        self.image_size = image_size
        self.vision_backbone = PrismaticVisionBackbone(image_size)
        self.projector = PrismaticProjector()
        self.language_model = LlamaForCausalLM()

    def forward(self, pixel_values, input_ids, labels):
        """The training forward of OpenVlaForActionPrediction.Forward(labelLogitsOnly: true): mean shifted CE."""
        b, k = pixel_values.shape[0], pixel_values.shape[1] // 6
        s = self.image_size
        patches = self.projector(self.vision_backbone(pixel_values.reshape(b * k, 6, s, s)))
        img = patches.reshape(b, k * patches.shape[1], patches.shape[2])
        n_img = img.shape[1]
        emb = self.language_model.model.embed_tokens(input_ids)
        h = self.language_model.model(torch.cat([emb[:, :1], img, emb[:, 1:]], 1))
        full = torch.cat([labels[:, :1], torch.full((b, n_img), -100, dtype=labels.dtype), labels[:, 1:]], 1)
        # LM head only from the position before the first label on (the same loss as over every position)
        any_label = (labels != -100).any(0).nonzero()
        first = n_img + int(any_label[0]) if len(any_label) else 1
        frm = max(0, first - 1)
        logits = self.language_model.lm_head(h[:, frm:]).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[2]), full[:, frm + 1:].reshape(-1), ignore_index=-100)


def initialize(model, gen):
    """Pretrained.Initialize: linear/embedding N(0, 0.02), biases 0, norms 1, pos_embed trunc-normal 0.02 in
    [-0.04, 0.04], CLS/register/latent tokens N(0, 1e-6), LayerScale 1e-5."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("scale_factor"):
                p.fill_(1e-5)
            elif name.endswith("pos_embed"):
                p.copy_(torch.randn(p.shape, generator=gen).mul_(0.02).clamp_(-0.04, 0.04))  # trunc-normal stand-in
            elif name.endswith(("cls_token", "reg_token", "latent")):
                p.normal_(0, 1e-6, generator=gen)
            elif leaf == "bias":
                p.zero_()
            elif p.dim() == 1:
                p.fill_(1.0)
            else:
                p.normal_(0, 0.02, generator=gen)


def blas_in_use():
    """The BLAS library this process mapped (Debian's torch calls libblas.so.3 for fp32 matmuls: OpenBLAS or the
    netlib reference, whichever the alternatives system or LD_LIBRARY_PATH picks), and OpenBLAS's kernel if any."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in path.rsplit("/", 1)[-1] or "blis" in path.rsplit("/", 1)[-1]:
                libs.add(os.path.realpath(path))
    core = None
    for lib in sorted(libs):
        try:
            fn = ctypes.CDLL(lib).openblas_get_corename
            fn.restype = ctypes.c_char_p
            core = fn().decode()
            break
        except (OSError, AttributeError):
            continue
    return sorted(libs), core


def lr_at(step, base, min_lr, warmup, max_steps):
    """WarmupCosineSchedule.At."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    t = min(max((step - warmup) / max(1, max_steps - warmup), 0.0), 1.0)
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t))


def synthetic_batch(b, views, s, prompt_tokens, label_tokens, gen):
    """[BOS, prompt bytes + 3 (the byte stand-in), state tokens | action tokens, EOS]; labels on the last part only."""
    act_lo = BASE_VOCAB - N_BINS
    n_prompt = prompt_tokens - 1
    text = [b_ + 3 for b_ in f"In: What action should the robot take to {INSTRUCTION}?\nOut:".encode()]
    prompt = (text * (n_prompt // len(text) + 1))[:n_prompt]
    ids = torch.empty(b, prompt_tokens + label_tokens, dtype=torch.long)
    ids[:, 0] = BOS
    ids[:, 1:1 + len(prompt)] = torch.tensor(prompt)
    n_state = n_prompt - len(text)
    if n_state > 0:  # the joint-state tokens after the prompt (their bins are action ids)
        ids[:, 1 + len(text):prompt_tokens] = torch.randint(act_lo, BASE_VOCAB, (b, n_state), generator=gen)
    ids[:, prompt_tokens:-1] = torch.randint(act_lo, BASE_VOCAB, (b, label_tokens - 1), generator=gen)
    ids[:, -1] = EOS
    labels = torch.full_like(ids, -100)
    labels[:, prompt_tokens:] = ids[:, prompt_tokens:]
    px = torch.randn(b, 6 * views, s, s, generator=gen)
    return px, ids, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--image-size", type=int, default=84, help="both vision towers (quickstart: 84)")
    ap.add_argument("--views", type=int, default=3)
    ap.add_argument("--state-dim", type=int, default=8, help="joint-state tokens in the prompt (quickstart --proprio; 0 = none)")
    ap.add_argument("--action-dim", type=int, default=8)
    ap.add_argument("--action-chunk", type=int, default=4)
    ap.add_argument("--prompt-tokens", type=int, default=None, help="BOS + prompt + state tokens (default: computed as the trainer does)")
    ap.add_argument("--label-tokens", type=int, default=None, help="action tokens + EOS (default: action-dim * action-chunk + 1)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-steps", type=int, default=1000, help="schedule horizon (TrainOptions.MaxSteps)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--serve", action="store_true", help="keep the model; run rounds on stdin commands ('run WARMUP STEPS', 'quit')")
    a = ap.parse_args()
    if a.image_size % PATCH or not 28 <= a.image_size <= 448:
        ap.error("--image-size must be a multiple of 14 in [28, 448]")

    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    text_len = 1 + len(f"In: What action should the robot take to {INSTRUCTION}?\nOut:".encode())
    prompt_tokens = a.prompt_tokens if a.prompt_tokens is not None else text_len + a.state_dim
    label_tokens = a.label_tokens if a.label_tokens is not None else a.action_dim * a.action_chunk + 1

    t_build = time.perf_counter()
    model = OpenVla(a.image_size)
    initialize(model, gen)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    warmup_steps = round(0.03 * a.max_steps)  # TrainOptions.EffectiveWarmup
    px, ids, labels = synthetic_batch(a.batch_size, a.views, a.image_size, prompt_tokens, label_tokens, gen)
    build_s = time.perf_counter() - t_build

    state = {"step": 0, "losses": []}

    def run_round(warmup, steps):
        """`warmup` untimed then `steps` timed optimizer steps; per-step samples/s and mean phase seconds."""
        rates, cpu, phases = [], [], {"forward": [], "backward": [], "clip": [], "optimizer": []}
        for i in range(warmup + steps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            loss = model(px, ids, labels)
            t1 = time.perf_counter()
            loss.backward()
            state["losses"].append(loss.item())
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            t3 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(state["step"], a.lr, 0.0, warmup_steps, a.max_steps)
            opt.step()
            opt.zero_grad(set_to_none=True)
            t4 = time.perf_counter()
            c4 = time.process_time()
            state["step"] += 1
            if i >= warmup:
                rates.append(a.batch_size / (t4 - t0))
                cpu.append(c4 - c0)
                for k, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    phases[k].append(dt)
        return rates, cpu, {k: sum(v) / len(v) for k, v in phases.items()}

    def report(rates, cpu, phase_s):
        blas, core = blas_in_use()
        print(json.dumps({
            "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "parameters": n_params, "batch_size": a.batch_size, "views": a.views, "image_size": a.image_size,
            "pixel_values": list(px.shape), "input_ids": list(ids.shape), "label_tokens": label_tokens,
            "sequence": 1 + a.views * (a.image_size // PATCH) ** 2 + ids.shape[1] - 1,
            "blas": blas, "openblas_core": core,
            "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS") if k in os.environ},
            "initial_loss": state["losses"][0], "last_loss": state["losses"][-1], "steps_done": state["step"], "build_s": build_s,
            "samples_per_s": rates, "cpu_s_per_step": cpu, "phase_s": phase_s,
        }), flush=True)

    if not a.serve:
        report(*run_round(a.warmup, a.steps))
        return
    # --serve: the model and optimizer stay alive; each stdin line "run WARMUP STEPS" answers one JSON line, so the
    # caller can alternate short rounds with its own without restarting Python; "quit" or EOF ends.
    print(json.dumps({"ready": True, "parameters": n_params, "threads": torch.get_num_threads(),
                      "pixel_values": list(px.shape), "input_ids": list(ids.shape)}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] != "run" or len(words) != 3:
            print(json.dumps({"error": f"expected 'run WARMUP STEPS' or 'quit', got {line.strip()!r}"}), flush=True)
            continue
        report(*run_round(int(words[1]), int(words[2])))


if __name__ == "__main__":
    main()
