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


if __name__ == '__main__':
    torch.manual_seed(0)
    for case in cases():
        export(*case)
