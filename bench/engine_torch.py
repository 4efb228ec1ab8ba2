"""PyTorch twin of main/engine/reference-models.ts: the same decoder and diffusion-transformer stacks.

Timing (run by bench/engine.ts): `/usr/bin/python3 bench/engine_torch.py --serve '<config json>' THREADS`, see serve().
  config: {"name", "kind": "decoder"|"dit", "width", "layers", "heads", "tokens", "batch", "vocab" (decoder), "patch" (dit)}.
Gradients (run by the parity test): `... engine_torch.py --grads '<config json>' weights.safetensors batch.safetensors
  out.safetensors` loads the engine's parameters (its names, Linear weights [in, out]), computes the loss and
  its gradients with autograd, and writes them back in the engine's names and layout (plus "loss").
Module and parameter names mirror the engine's scopes: `blocks.3.attn.qkv.weight` is `block3/attn/qkv/weight`.
"""
import json
import math
import re
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, width, heads, causal):
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):  # x: [B, T, D]
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        # [B, H, T, Dh]
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(d // self.heads))  # [B, H, T, T]
        if self.causal:
            mask = torch.full((t, t), -1e9).triu(1)
            scores = scores + mask
        y = scores.softmax(-1) @ v  # [B, H, T, Dh]
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class DecoderBlock(nn.Module):
    """Pre-LN GPT block."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads, causal=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = Mlp(width)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tok_embed = nn.Embedding(c["vocab"], c["width"])
        self.pos = nn.Parameter(torch.randn(c["tokens"], c["width"]) * 0.02)
        self.blocks = nn.ModuleList(DecoderBlock(c["width"], c["heads"]) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["width"])
        self.head = nn.Linear(c["width"], c["vocab"], bias=False)

    def loss(self, batch):
        ids, targets = batch  # [B, T] int64 each
        x = self.tok_embed(ids) + self.pos
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))  # [B, T, V]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def modulate(x, shift, scale):  # x: [B, T, D], shift/scale: [B, D]
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class DitBlock(nn.Module):
    """DiT block with adaLN-Zero conditioning (shift/scale/gate for attention and MLP from c)."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads, causal=False)
        self.ln2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width)
        self.ada = nn.Linear(width, 6 * width)

    def forward(self, x, c):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(c)).chunk(6, dim=1)
        x = x + gate1.unsqueeze(1) * self.attn(modulate(self.ln1(x), shift1, scale1))
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.ln2(x), shift2, scale2))


class TimestepMlp(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, t_emb):
        return self.fc2(F.silu(self.fc1(t_emb)))


class Dit(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = c["width"]
        self.patch_in = nn.Linear(c["patch"], w)
        self.pos = nn.Parameter(torch.randn(c["tokens"], w) * 0.02)
        self.t_mlp = TimestepMlp(w)
        self.blocks = nn.ModuleList(DitBlock(w, c["heads"]) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.ada_f = nn.Linear(w, 2 * w)
        self.patch_out = nn.Linear(w, c["patch"])

    def loss(self, batch):
        patches, t_emb, target = batch  # [B, T, P], [B, D] (sinusoidal, precomputed), [B, T, P]
        c = self.t_mlp(t_emb)
        x = self.patch_in(patches) + self.pos
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.ada_f(F.silu(c)).chunk(2, dim=1)
        pred = self.patch_out(modulate(self.ln_f(x), shift, scale))
        return F.mse_loss(pred, target)


def make_model(c):
    return Decoder(c) if c["kind"] == "decoder" else Dit(c)


def make_batch(c):
    g = torch.Generator().manual_seed(0)
    b, t = c["batch"], c["tokens"]
    if c["kind"] == "decoder":
        ids = torch.randint(0, c["vocab"], (b, t), generator=g)
        return ids, torch.roll(ids, -1, dims=1)
    return (torch.randn(b, t, c["patch"], generator=g), torch.randn(b, c["width"], generator=g), torch.randn(b, t, c["patch"], generator=g))


def serve(config):
    """Timing server: builds the model, prints one JSON line of facts, then answers each stdin line
    'forward' or 'train' with the milliseconds one run took. bench/engine.ts interleaves these with its own
    runs so both engines see the same background load on a shared machine."""
    torch.manual_seed(0)
    model = make_model(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    batch = make_batch(config)

    def forward():
        with torch.no_grad():
            model.loss(batch)

    def train_step():
        opt.zero_grad(set_to_none=True)
        model.loss(batch).backward()
        opt.step()

    actions = {"forward": forward, "train": train_step}
    facts = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_info(), "params": sum(p.numel() for p in model.parameters())}
    print(json.dumps(facts), flush=True)
    for line in sys.stdin:
        action = actions[line.strip()]
        start = time.perf_counter()
        action()
        print((time.perf_counter() - start) * 1000, flush=True)


def blas_info():
    config = torch.__config__.show()
    blas = next((part.split("=")[1] for part in config.replace(",", "\n").split("\n") if "BLAS_INFO" in part), "unknown")
    # Debian's torch links the generic libblas.so.3; which library that really is depends on the alternatives
    # system (OpenBLAS when libopenblas0-pthread is installed), so report the loaded shared object too.
    loaded = []
    try:
        with open("/proc/self/maps") as maps:
            loaded = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line})
    except OSError:
        pass
    return {"build": blas, "loaded": loaded}


# ----- engine parity: safetensors in and out (struct + json; no numpy or safetensors package needed) -----

ST_DTYPES = {"F32": (torch.float32, "f", 4), "I64": (torch.int64, "q", 8)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, fmt, size = ST_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        values = struct.unpack(f"<{(end - begin) // size}{fmt}", data[base + begin : base + end])
        out[name] = torch.tensor(values, dtype=dtype).reshape(entry["shape"])
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        flat = t.detach().to(torch.float32).reshape(-1).tolist()
        chunk = struct.pack(f"<{len(flat)}f", *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * ((8 - (8 + len(header_bytes)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks))


def engine_names(model):
    """torch parameter name -> (engine name, stored transposed?) for every parameter."""
    names = {}
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            ours = re.sub(r"^blocks\.(\d+)\.", r"block\1/", full).replace(".", "/")
            if isinstance(module, nn.LayerNorm) and param_name == "weight":
                ours = ours[: -len("weight")] + "scale"
            if isinstance(module, nn.Embedding):
                ours = ours[: -len("/weight")]
            names[full] = (ours, isinstance(module, nn.Linear) and param_name == "weight")
    return names


def grads_main(config, weights_path, batch_path, out_path):
    torch.set_num_threads(1)
    model = make_model(config)
    weights = read_safetensors(weights_path)
    params = dict(model.named_parameters())
    names = engine_names(model)
    with torch.no_grad():
        for full, (ours, transposed) in names.items():
            value = weights.pop(ours)
            params[full].copy_(value.t() if transposed else value)
    if weights:
        raise SystemExit(f"engine parameters without a torch twin: {sorted(weights)}")
    batch = read_safetensors(batch_path)
    order = ["ids", "targets"] if config["kind"] == "decoder" else ["patches", "t_emb", "target"]
    shaped = {
        "ids": lambda t: t.reshape(config["batch"], config["tokens"]),
        "targets": lambda t: t.reshape(config["batch"], config["tokens"]),
        "patches": lambda t: t.reshape(config["batch"], config["tokens"], config["patch"]),
        "t_emb": lambda t: t.reshape(config["batch"], config["width"]),
        "target": lambda t: t.reshape(config["batch"], config["tokens"], config["patch"]),
    }
    loss = model.loss(tuple(shaped[k](batch[k]) for k in order))
    loss.backward()
    out = {"loss": loss.detach().reshape(1)}
    for full, (ours, transposed) in names.items():
        g = params[full].grad
        out[ours] = g.t() if transposed else g
    write_safetensors(out_path, out)


def main():
    if sys.argv[1] == "--grads":
        grads_main(json.loads(sys.argv[2]), *sys.argv[3:6])
    elif sys.argv[1] == "--serve":
        torch.set_num_threads(int(sys.argv[3]))
        serve(json.loads(sys.argv[2]))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --serve '<config json>' THREADS | --grads '<config json>' WEIGHTS BATCH OUT")


if __name__ == "__main__":
    main()
