#!/usr/bin/env python3
"""Exports the autodiff corpus: standard PyTorch modules as ONNX, with torch's gradients beside them.

Run once by a developer (Debian: apt-get install python3-torch python3-onnx; then
/usr/bin/python3 main/engine/autodiff/corpus/export.py). `npm test` checks the committed files without Python
(corpus.test.ts): every initializer's gradient from grad() must be within 1e-4 (relative, in norm) of torch's.

Each case writes <name>.onnx and <name>.json:
  inputs   {name: {dtype, shape, b64}}   the feeds (float32 little-endian or int64)
  weights  {output: {shape, b64}}        the loss is sum over outputs of sum(output * weights)
  loss     the loss torch computed (float64 reference)
  grads    {initializer: {shape, b64, params: [torch names]}}  d loss / d initializer in float64 (stored as
           float32): the sum over every torch parameter the initializer holds (torch merges identical
           tensors into one initializer and stores some weights transposed)
Dynamic axes are declared for batch and sequence so shapes are computed at run time (Shape -> Gather ->
Unsqueeze -> Concat subgraphs, Slice starts from Shape), as users' exports do.
"""
import base64, json, os, sys
import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def b64(a, dtype):
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=True, activation='gelu')

    def forward(self, x):
        return self.enc(x)


class Attention(nn.Module):
    """nn.MultiheadAttention (self-attention) with a key padding mask."""
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x, pad):
        return self.attn(x, x, x, key_padding_mask=pad, need_weights=False)[0]


class ResBlock(nn.Module):
    """Conv2d + GroupNorm + SiLU, twice, with a residual (a diffusion U-Net's block)."""
    def __init__(self, c=8):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(4, c), nn.Conv2d(c, c, 3, padding=1)
        self.n2, self.c2 = nn.GroupNorm(4, c), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return x + self.c2(F.silu(self.n2(h)))


class UNetBlock(nn.Module):
    """Down (strided conv) then up (transposed conv, skip concat, nearest and bilinear Resize, padding)."""
    def __init__(self):
        super().__init__()
        self.inp = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.mid = nn.Conv2d(8, 8, 1)
        self.up = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1)
        self.fuse = nn.Conv2d(16, 4, 3, padding=0, groups=2)
        self.out = nn.Conv2d(4, 3, 3, padding=1, dilation=1)

    def forward(self, x):
        h = F.silu(self.inp(x))
        d = self.mid(F.silu(self.norm(self.down(h))))
        u = self.up(d) + F.interpolate(d, scale_factor=2.0, mode='nearest')
        f = F.pad(self.fuse(torch.cat([u, h], dim=1)), (1, 1, 1, 1))
        return self.out(F.interpolate(f, scale_factor=0.5, mode='bilinear', align_corners=False))


class EmbedNorm(nn.Module):
    """nn.Embedding + two fresh LayerNorms: torch stores their identical weights as one initializer."""
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 16)
        self.ln1 = nn.LayerNorm(16)
        self.proj = nn.Linear(16, 16)
        self.ln2 = nn.LayerNorm(16)

    def forward(self, ids):
        return self.ln2(self.proj(self.ln1(self.emb(ids))))


class DynamicOps(nn.Module):
    """Slice, Pad, Expand, Tile, Where and Gather with starts, shapes and indices computed at run time."""
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.gain = nn.Parameter(torch.randn(1, 1, 8))

    def forward(self, x, idx):
        h = self.proj(x)                                   # [B, T, 8]
        half = h[:, : h.shape[1] // 2]                     # Slice with ends from Shape
        tail = h[:, h.shape[1] - 2:]                        # Slice with starts from Shape
        gathered = torch.index_select(h, 1, idx)            # Gather with run-time indices
        tiled = half.repeat(1, 2, 1)[:, : h.shape[1]]        # Tile, then a run-time Slice
        grown = self.gain.expand(h.shape[0], h.shape[1], 8)  # Expand to a run-time shape
        masked = torch.where(h > 0, h * grown, tiled)        # Where with a run-time mask
        padded = F.pad(tail, (0, 0, 0, h.shape[1] - 2))     # Pad with run-time pads
        return masked + padded + gathered.mean(1, keepdim=True)


def randomize(model, seed):
    """Distinct random values for every parameter (fresh LayerNorms of EmbedNorm kept: they are the merge case)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if isinstance(model, EmbedNorm) and name.startswith(('ln1', 'ln2')):
                continue
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def cases():
    g = torch.Generator().manual_seed(0)
    rnd = lambda *s: torch.randn(*s, generator=g)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[1, 3:] = True
    return [
        ('encoder_layer', EncoderLayer(), {'x': rnd(2, 5, 16)}, {'x': {0: 'batch', 1: 'seq'}}),
        ('multihead_attention', Attention(), {'x': rnd(2, 5, 16), 'pad': pad}, {'x': {0: 'batch', 1: 'seq'}, 'pad': {0: 'batch', 1: 'seq'}}),
        ('resblock', ResBlock(), {'x': rnd(2, 8, 6, 6)}, {'x': {0: 'batch'}}),
        ('unet_block', UNetBlock(), {'x': rnd(1, 3, 8, 8)}, {'x': {0: 'batch'}}),
        ('embedding_layernorm', EmbedNorm(), {'ids': torch.tensor([[1, 4, 4, 10], [0, 2, 9, 4]])}, {'ids': {0: 'batch', 1: 'seq'}}),
        ('dynamic_ops', DynamicOps(), {'x': rnd(2, 6, 8), 'idx': torch.tensor([5, 0, 5, 2])}, {'x': {0: 'batch', 1: 'seq'}, 'idx': {0: 'picks'}}),
    ]


def map_initializers(model, proto):
    """initializer name -> [(torch name, transposed)], checking every parameter is held by one initializer."""
    params = dict(model.named_parameters())
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    held = {}
    for pname, p in params.items():
        v = p.detach().numpy()
        if pname in inits:
            held.setdefault(pname, []).append((pname, False))
            continue
        # Same values, possibly reshaped (GroupNorm's weight is folded into [C, 1, 1]) or transposed (Linear).
        found = [(n, False) for n, a in inits.items() if a.size == v.size and np.array_equal(a.reshape(v.shape), v)]
        if not found and v.ndim == 2:
            found = [(n, True) for n, a in inits.items() if a.shape == v.T.shape and np.array_equal(a, v.T)]
        if len(found) != 1:
            sys.exit(f'{pname}: held by {len(found)} initializers {found}; cannot map its gradient')
        held.setdefault(found[0][0], []).append((pname, found[0][1]))
    return held


def export(name, model, inputs, dynamic):
    model.eval()
    randomize(model, sum(map(ord, name)))
    path = os.path.join(OUT, f'{name}.onnx')
    names = list(inputs)
    torch.onnx.export(model, tuple(inputs.values()), path, input_names=names, output_names=['y'],
                      dynamic_axes={**dynamic, 'y': {0: 'batch'}}, opset_version=OPSET, do_constant_folding=True)
    proto = onnx.load(path)
    held = map_initializers(model, proto)

    # Reference: float64 autograd on the same weights and inputs.
    ref = model.double()
    feeds = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
    y = ref(*feeds.values())
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    loss = (y * weights).sum()
    loss.backward()
    params = dict(ref.named_parameters())
    grads = {}
    for init, members in held.items():
        shape = next(i.dims for i in proto.graph.initializer if i.name == init)
        total = sum((params[p].grad.T if t else params[p].grad).reshape(list(shape)) for p, t in members)
        grads[init] = {'shape': list(total.shape), 'b64': b64(total.numpy(), '<f4'), 'params': [p for p, _ in members]}

    def feed(v):
        if v.dtype == torch.bool:
            return {'dtype': 'bool', 'shape': list(v.shape), 'b64': b64(v.numpy(), 'u1')}
        if v.is_floating_point():
            return {'dtype': 'float32', 'shape': list(v.shape), 'b64': b64(v.numpy(), '<f4')}
        return {'dtype': 'int64', 'shape': list(v.shape), 'b64': b64(v.numpy(), '<i8')}

    doc = {
        'torch': torch.__version__, 'opset': OPSET,
        'inputs': {k: feed(v) for k, v in inputs.items()},
        'weights': {'y': {'shape': list(weights.shape), 'b64': b64(weights.numpy(), '<f4')}},
        'loss': loss.item(),
        'grads': grads,
    }
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(doc, f, indent=1)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f'{name}: {os.path.getsize(path)} B onnx, {len(grads)} initializers; ops {" ".join(ops)}')


# ----- a tiny unified model for "bring your own model" (docs/model.md, main/models/adapter.ts) -------------
# The app's layout at its smallest: 32x32 images, 8x8 vision and DiT patches, 96 text slots, 4 meta-queries,
# the ShapeWorld vocabulary (151 words). Exported with do_constant_folding=False so every initializer is a
# parameter under its torch name, shared by name between the LM graphs.
V, D, H, Q, P, L, DV, N, DP, DC, TF = 151, 16, 2, 4, 16, 96, 192, 16, 192, 16, 16
UNIFIED = os.path.join(OUT, '..', '..', '..', 'models', 'test-fixtures', 'tiny-unified')


class Block(nn.Module):
    """Pre-LN attention with the app's additive bias [B, 1, T, S] and a KV cache, then a GELU MLP."""
    def __init__(self):
        super().__init__()
        self.ln1, self.qkv, self.out = nn.LayerNorm(D), nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.ln2, self.up, self.down = nn.LayerNorm(D), nn.Linear(D, 2 * D), nn.Linear(2 * D, D)

    def forward(self, x, bias, past_k=None, past_v=None):
        b, t = x.shape[0], x.shape[1]
        heads = lambda z: z.reshape(b, t, H, D // H).transpose(1, 2)
        q, k, v = (heads(z) for z in self.qkv(self.ln1(x)).split(D, -1))
        if past_k is not None:
            k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / (D // H) ** 0.5 + bias, -1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, D))
        return x + self.down(F.gelu(self.up(self.ln2(x)))), k, v


class Lm(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.positions = nn.Embedding(V, D), nn.Embedding(P + L + Q, D)
        self.block, self.final = Block(), nn.LayerNorm(D)


class LmFull(nn.Module):
    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, image_tokens, text_ids, queries, positions, bias):
        lm = self.lm
        x = torch.cat([image_tokens, lm.embed(text_ids), queries], 1) + lm.positions(positions)
        h, k, v = lm.block(x, bias)
        return lm.final(h), k, v


class LmStep(nn.Module):
    def __init__(self, lm, head):
        super().__init__()
        self.lm, self.head = lm, head

    def forward(self, token_ids, positions, bias, past_k0, past_v0):
        lm = self.lm
        h, k, v = lm.block(lm.embed(token_ids) + lm.positions(positions), bias, past_k0, past_v0)
        return self.head(lm.final(h))[:, 0], k, v


class LmHead(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, hidden):
        return self.head(hidden)


class Queries(nn.Module):
    def __init__(self):
        super().__init__()
        self.generate, self.edit = nn.Parameter(torch.randn(Q, D) * 0.5), nn.Parameter(torch.randn(Q, D) * 0.5)

    def forward(self, edit_flag):
        f = edit_flag[:, None, None]
        return (1 - f) * self.generate + f * self.edit


class Vision(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch, self.positions = nn.Linear(DV, D), nn.Parameter(torch.randn(P, D) * 0.1)
        self.norm, self.to_lm = nn.LayerNorm(D), nn.Linear(D, D)

    def forward(self, vision_patches):
        return self.to_lm(self.norm(self.patch(vision_patches) + self.positions))


class Connector(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(D, DC), nn.Linear(DC, DC)

    def forward(self, query_hidden):
        return self.b(F.gelu(self.a(query_hidden)))


class Dit(nn.Module):
    """Patch tokens + time + pooled condition, self-attention, cross-attention to the condition, MLP."""
    def __init__(self):
        super().__init__()
        self.patch, self.ref, self.positions = nn.Linear(DP, D), nn.Linear(DP, D), nn.Parameter(torch.randn(N, D) * 0.1)
        self.time1, self.time2, self.pool = nn.Linear(TF, D), nn.Linear(D, D), nn.Linear(DC, D)
        self.ln1, self.attn = nn.LayerNorm(D), nn.MultiheadAttention(D, H, batch_first=True)
        self.ln2, self.cross = nn.LayerNorm(D), nn.MultiheadAttention(D, H, batch_first=True)
        self.ln3, self.up, self.down, self.out = nn.LayerNorm(D), nn.Linear(D, 2 * D), nn.Linear(2 * D, D), nn.Linear(D, DP)
        self.register_buffer('freqs', torch.exp(-np.log(10000.0) * torch.arange(TF // 2) / (TF // 2)), persistent=False)

    def forward(self, x, t, cond, ref):
        args = (t * 1000)[:, None] * self.freqs[None]
        temb = self.time2(F.silu(self.time1(torch.cat([args.cos(), args.sin()], 1))))
        h = self.patch(x) + self.ref(ref) + self.positions + (temb + self.pool(cond.mean(1)))[:, None]
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.cross(self.ln2(h), cond, cond, need_weights=False)[0]
        h = h + self.down(F.gelu(self.up(self.ln3(h))))
        return self.out(h)


def export_unified():
    torch.manual_seed(1)
    lm, head = Lm(), nn.Linear(D, V)
    parts = [Vision(), Queries(), Connector(), Dit(), lm, head]
    with torch.no_grad():
        for module in parts:
            for name, p in module.named_parameters():
                if name.endswith('ln1.weight') or name.endswith('ln2.weight') or name.endswith('ln3.weight') or name.endswith('norm.weight') or name.endswith('final.weight'):
                    p.add_(torch.randn(p.shape) * 0.05)  # LayerNorms that differ, as trained ones do (identical tensors would be merged)
                elif name.endswith('bias'):
                    p.copy_(torch.randn(p.shape) * 0.02)
    os.makedirs(UNIFIED, exist_ok=True)
    b, t = 2, 5
    graphs = {
        'vision': (parts[0], {'vision_patches': torch.randn(b, P, DV)}, {'vision_patches': {0: 'batch'}}, ['image_tokens']),
        'queries': (parts[1], {'edit_flag': torch.tensor([0.0, 1.0])}, {'edit_flag': {0: 'batch'}}, ['queries']),
        'connector': (parts[2], {'query_hidden': torch.randn(b, Q, D)}, {'query_hidden': {0: 'batch'}}, ['cond']),
        'dit': (parts[3], {'x': torch.randn(b, N, DP), 't': torch.rand(b), 'cond': torch.randn(b, Q, DC), 'ref': torch.randn(b, N, DP)},
                {'x': {0: 'batch'}, 't': {0: 'batch'}, 'cond': {0: 'batch'}, 'ref': {0: 'batch'}}, ['v']),
        'lm': (LmFull(lm), {'image_tokens': torch.randn(b, P, D), 'text_ids': torch.randint(0, V, (b, t)), 'queries': torch.randn(b, Q, D),
                            'positions': torch.arange(P + t + Q).repeat(b, 1), 'bias': torch.zeros(b, 1, P + t + Q, P + t + Q)},
               {'image_tokens': {0: 'batch'}, 'text_ids': {0: 'batch', 1: 'text'}, 'queries': {0: 'batch', 1: 'queries'},
                'positions': {0: 'batch', 1: 'seq'}, 'bias': {0: 'batch', 2: 'seq', 3: 'seq'}}, ['hidden', 'present_k0', 'present_v0']),
        'lm_step': (LmStep(lm, head), {'token_ids': torch.randint(0, V, (b, 1)), 'positions': torch.full((b, 1), 3), 'bias': torch.zeros(b, 1, 1, t + 1),
                                       'past_k0': torch.randn(b, H, t, D // H), 'past_v0': torch.randn(b, H, t, D // H)},
                    {'token_ids': {0: 'batch'}, 'positions': {0: 'batch'}, 'bias': {0: 'batch', 3: 'total'},
                     'past_k0': {0: 'batch', 2: 'past'}, 'past_v0': {0: 'batch', 2: 'past'}}, ['logits', 'present_k0', 'present_v0']),
        'lm_head': (LmHead(head), {'hidden': torch.randn(b, t, D)}, {'hidden': {0: 'batch', 1: 'tokens'}}, ['logits']),
    }
    for name, (module, inputs, dynamic, outputs) in graphs.items():
        path = os.path.join(UNIFIED, f'{name}.onnx')
        torch.onnx.export(module.eval(), tuple(inputs.values()), path, input_names=list(inputs), output_names=outputs,
                          dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=False)
        print(f'unified/{name}: {os.path.getsize(path)} B')
    manifest = {'name': 'tiny-torch', 'imageSize': 32, 'textLength': L, 'queries': Q, 'visionPatch': 8, 'ditPatch': 8,
                'lm': {'width': D, 'heads': H, 'layers': 1}, 'condWidth': DC, 'tokenizer': 'shapeworld'}
    with open(os.path.join(UNIFIED, 'unirl-model.json'), 'w') as f:
        json.dump(manifest, f, indent=2)


if __name__ == '__main__':
    torch.manual_seed(0)
    for case in cases():
        export(*case)
    export_unified()
