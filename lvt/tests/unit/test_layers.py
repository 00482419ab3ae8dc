"""Transformer building blocks against brute-force references: block-local attention
with relative biases, the masked 3x3x3 convolution, the cached one-position steps, and
the 3D sinusoidal encodings."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lvt.model.layers import (
    BlockSelfAttentionLayer,
    MaskedConv3d,
    block_members,
    causal_kernel_mask,
    sinusoid_3d,
)
from shared_utils.kernels import assert_close


def _brute_force(layer: BlockSelfAttentionLayer, x: torch.Tensor) -> torch.Tensor:
    """Loop over every pair of positions of the slice."""
    b, t, h, w, d = x.shape
    bt, bh, bw = layer.block
    pos = list(itertools.product(range(t), range(h), range(w)))
    flat = x.reshape(b, -1, d)
    q, k, v = (
        layer.qkv(layer.norm_attention(flat)).reshape(b, len(pos), 3, layer.heads, -1).unbind(2)
    )
    out = torch.zeros(b, len(pos), layer.heads, layer.attention_dim, dtype=x.dtype)
    for i, pi in enumerate(pos):
        logits = torch.full((b, layer.heads, len(pos)), float("-inf"), dtype=x.dtype)
        for j, pj in enumerate(pos):
            same_block = all(a // s == c // s for a, c, s in zip(pi, pj, (bt, bh, bw)))
            if not same_block or (layer.masked and j > i):
                continue
            bias = sum(
                layer.rel_tables[ax][
                    :, pi[ax] % layer.block[ax] - pj[ax] % layer.block[ax] + layer.block[ax] - 1
                ]
                for ax in range(3)
            )
            logits[:, :, j] = (q[:, i] * k[:, j]).sum(-1) / math.sqrt(layer.attention_dim) + bias
        att = torch.softmax(logits, dim=-1)
        out[:, i] = torch.einsum("bhn,bnhd->bhd", att, v)
    y = flat + layer.out(out.reshape(b, len(pos), -1))
    y = y + layer.ffn(layer.norm_ffn(y))
    return y.reshape(x.shape)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("block", [(1, 2, 4), (2, 2, 2), (2, 4, 4)])
def test_block_attention_matches_brute_force(masked: bool, block: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    layer = BlockSelfAttentionLayer(12, 4, 3, 16, block, masked=masked).double()
    for table in layer.rel_tables:
        torch.nn.init.normal_(table)
    x = torch.randn(2, 2, 4, 4, 12, dtype=torch.float64)
    assert_close(layer(x), _brute_force(layer, x), rtol=1e-9, atol=1e-9, name="block attention")


def test_cached_steps_equal_the_full_forward() -> None:
    torch.manual_seed(0)
    block, shape = (2, 2, 4), (2, 4, 4)
    layer = BlockSelfAttentionLayer(12, 4, 3, 16, block, masked=True).double()
    for table in layer.rel_tables:
        torch.nn.init.normal_(table)
    x = torch.randn(2, *shape, 12, dtype=torch.float64)
    full = layer(x).reshape(2, -1, 12)
    members, local = block_members(shape, block)
    keys = torch.zeros(2, 3, 32, 4, dtype=torch.float64)
    values = torch.zeros_like(keys)
    flat = x.reshape(2, -1, 12)
    for p in range(32):
        step = layer.step(flat[:, p], keys, values, int(local[p]), members[p])
        assert_close(step, full[:, p], rtol=1e-9, atol=1e-9, name=f"position {p}")


def test_masked_conv_sees_only_earlier_positions() -> None:
    mask = causal_kernel_mask((3, 3, 3))
    assert int(mask.sum()) == 13  # 9 previous-frame taps + 3 previous-row taps + 1 left tap
    assert (
        not mask[1, 1, 1]
        and mask[1, 1, 0]
        and not mask[1, 1, 2]
        and mask[0, 2, 2]
        and not mask[2, 0, 0]
    )
    torch.manual_seed(0)
    conv = MaskedConv3d(3, 5).double()
    x = torch.randn(1, 3, 4, 4, 3, dtype=torch.float64)
    y = conv(x)
    padded = torch.nn.functional.pad(x.permute(0, 4, 1, 2, 3), (1, 1, 1, 1, 1, 1))
    for t, r, c in [(0, 0, 0), (1, 2, 3), (2, 3, 1)]:
        assert_close(conv.step(padded, (t, r, c)), y[:, t, r, c], rtol=1e-12, atol=1e-12)


def test_sinusoid_3d_values() -> None:
    enc = sinusoid_3d((3, 4, 5), 14)  # n = 2 timescales per axis, 2 zero channels
    assert enc.shape == (3, 4, 5, 14)
    assert torch.all(enc[..., 12:] == 0)
    # axis t uses channels 0..3: sin(t), sin(t / 100), cos(t), cos(t / 100)
    t = 2.0
    expected = torch.tensor([math.sin(t), math.sin(t / 100), math.cos(t), math.cos(t / 100)])
    assert_close(enc[2, 1, 3, :4], expected.float(), rtol=1e-6, atol=1e-6)
    # the w group depends on w only
    assert torch.equal(enc[0, 0, 4, 8:12], enc[2, 3, 4, 8:12])
