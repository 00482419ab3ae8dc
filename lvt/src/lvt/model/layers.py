"""Building blocks of the video transformer: 3D sinusoidal positions, the masked 3x3x3
convolution, and a block-local self-attention layer with per-axis relative biases.

Every layer has a full forward over a slice (training, naive sampling) and a one-position
``step`` used by the cached sampler; both compute the same function.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]


def sinusoid_3d(shape: Triple, dim: int, *, max_timescale: float = 1.0e4) -> torch.Tensor:
    """3D sinusoidal positional encodings.

    The channels are split into three groups (t, h, w) of ``2 * n`` channels each,
    ``n = dim // 6``: sin then cos of ``position / max_timescale**(i/n)``; leftover
    channels are zero.

    Returns:
        (t, h, w, dim) float32.
    """
    n = dim // 6
    if n < 1:
        raise ValueError(f"positional encoding needs dim >= 6, got {dim}")
    inv = torch.exp(-math.log(max_timescale) * torch.arange(n, dtype=torch.float64) / n)
    out = torch.zeros(*shape, dim, dtype=torch.float64)
    for axis, length in enumerate(shape):
        pos = torch.arange(length, dtype=torch.float64)[:, None] * inv[None, :]
        signal = torch.cat([pos.sin(), pos.cos()], dim=1)  # (length, 2n)
        view = [1, 1, 1, 2 * n]
        view[axis] = length
        out[..., axis * 2 * n : (axis + 1) * 2 * n] += signal.reshape(view)
    return out.float()


def causal_kernel_mask(kernel: Triple) -> torch.Tensor:
    """(kt, kh, kw) bool: taps strictly before the centre in raster order (type 'A' mask)."""
    kt, kh, kw = kernel
    offsets = torch.stack(
        torch.meshgrid(
            torch.arange(kt) - kt // 2,
            torch.arange(kh) - kh // 2,
            torch.arange(kw) - kw // 2,
            indexing="ij",
        ),
        dim=-1,
    )
    dt, dh, dw = offsets.unbind(-1)
    return (dt < 0) | ((dt == 0) & (dh < 0)) | ((dt == 0) & (dh == 0) & (dw < 0))


class MaskedConv3d(nn.Module):
    """A 3D convolution whose output at p sees only positions strictly before p in raster order."""

    mask: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel: Triple = (3, 3, 3)) -> None:
        super().__init__()
        self.kernel = kernel
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.register_buffer("mask", causal_kernel_mask(kernel).float(), persistent=False)

    def masked_weight(self) -> torch.Tensor:
        """(out, in, kt, kh, kw) with the non-causal taps zeroed."""
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w, C_in) -> (B, t, h, w, C_out), zero padding at the borders."""
        pad = [k // 2 for k in self.kernel]
        y = F.conv3d(x.permute(0, 4, 1, 2, 3), self.masked_weight(), self.bias, padding=pad)
        return y.permute(0, 2, 3, 4, 1)

    def step(
        self, x_padded: torch.Tensor, pos: Triple, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The output at one position.

        Args:
            x_padded: (B, C_in, t + 2*(kt//2), h + ..., w + ...) the zero-padded input.
            pos: (t, y, x) in unpadded coordinates.
            weight: ``masked_weight()`` if the caller computed it once already.

        Returns:
            (B, C_out).
        """
        kt, kh, kw = self.kernel
        t, y, x = pos
        patch = x_padded[:, :, t : t + kt, y : y + kh, x : x + kw]
        w = self.masked_weight() if weight is None else weight
        return torch.einsum("bcijk,ocijk->bo", patch, w) + self.bias


def _relative_index(block: Triple) -> torch.Tensor:
    """(3, L, L) int64: per axis, (i - j) + (b - 1) for positions i, j of a block."""
    grid = torch.stack(
        torch.meshgrid(*[torch.arange(b) for b in block], indexing="ij"), dim=-1
    ).reshape(-1, 3)
    rel = grid[:, None, :] - grid[None, :, :] + torch.tensor(block) - 1
    return rel.permute(2, 0, 1).contiguous()


class BlockSelfAttentionLayer(nn.Module):
    """Pre-norm block-local multi-head self-attention + feed-forward, both residual.

    The slice (t, h, w) is tiled by blocks; each position attends only to positions of its
    block. With ``masked=True`` a position attends to itself and to earlier positions
    of its block in raster order. Attention logits get a learned bias per head and
    relative offset along each axis (three tables of size 2*b-1).
    """

    rel_index: torch.Tensor
    allowed: torch.Tensor

    def __init__(
        self, dim: int, attention_dim: int, heads: int, ffn_dim: int, block: Triple, masked: bool
    ) -> None:
        super().__init__()
        self.dim, self.attention_dim, self.heads = dim, attention_dim, heads
        self.block, self.masked = block, masked
        self.norm_attention = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * heads * attention_dim, bias=False)
        self.out = nn.Linear(heads * attention_dim, dim, bias=False)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, dim))
        self.rel_tables = nn.ParameterList(
            [nn.Parameter(torch.zeros(heads, 2 * b - 1)) for b in block]
        )
        self.register_buffer("rel_index", _relative_index(block), persistent=False)
        length = block[0] * block[1] * block[2]
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        self.register_buffer(
            "allowed", causal if masked else torch.ones_like(causal), persistent=False
        )

    def relative_bias(self) -> torch.Tensor:
        """(heads, L, L) the summed per-axis relative biases of one block."""
        return sum(
            (table[:, self.rel_index[axis]] for axis, table in enumerate(self.rel_tables)),
            torch.zeros((), device=self.rel_index.device),
        )

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w, C) -> (B * n_blocks, L, C)."""
        b, t, h, w, c = x.shape
        bt, bh, bw = self.block
        x = x.reshape(b, t // bt, bt, h // bh, bh, w // bw, bw, c)
        return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, bt * bh * bw, c)

    def _unblocks(self, x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        b, t, h, w, c = shape
        bt, bh, bw = self.block
        x = x.reshape(b, t // bt, h // bh, w // bw, bt, bh, bw, c)
        return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, t, h, w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w, dim) -> (B, t, h, w, dim); block shape must divide (t, h, w)."""
        shape = x.shape
        for axis in range(3):
            if shape[1 + axis] % self.block[axis]:
                raise ValueError(f"block {self.block} does not tile slice {tuple(shape[1:4])}")
        xb = self._blocks(x)
        n, length, _ = xb.shape
        q, k, v = (
            self.qkv(self.norm_attention(xb))
            .reshape(n, length, 3, self.heads, self.attention_dim)
            .permute(2, 0, 3, 1, 4)
        )
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.attention_dim) + self.relative_bias()
        logits = logits.masked_fill(~self.allowed, float("-inf"))
        att = torch.softmax(logits, dim=-1) @ v  # (n, heads, L, da)
        xb = xb + self.out(att.transpose(1, 2).reshape(n, length, -1))
        xb = xb + self.ffn(self.norm_ffn(xb))
        return self._unblocks(xb, shape)

    def step(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        local: int,
        members: torch.Tensor,
    ) -> torch.Tensor:
        """One position of a masked layer, with the keys/values of its block cached.

        Args:
            x: (B, dim) the layer input at the position.
            keys, values: (B, heads, N, da) caches over the slice's N positions (raster
                index); this call writes the entries of the position.
            local: the position's index inside its block (block raster order).
            members: (L,) slice raster indices of the block's positions, block order.

        Returns:
            (B, dim) the layer output at the position.
        """
        if not self.masked:
            raise RuntimeError("step() is only exact for masked (causal) layers")
        bsz = x.shape[0]
        q, k, v = (
            self.qkv(self.norm_attention(x))
            .reshape(bsz, 3, self.heads, self.attention_dim)
            .unbind(1)
        )
        own = members[local]
        keys[:, :, own] = k
        values[:, :, own] = v
        seen = members[: local + 1]
        logits = torch.einsum("bhd,bhnd->bhn", q, keys[:, :, seen]) / math.sqrt(self.attention_dim)
        bias = sum(
            (
                table[:, self.rel_index[axis, local, : local + 1]]
                for axis, table in enumerate(self.rel_tables)
            ),
            torch.zeros((), device=x.device),
        )
        att = torch.einsum(
            "bhn,bhnd->bhd", torch.softmax(logits + bias, dim=-1), values[:, :, seen]
        )
        x = x + self.out(att.reshape(bsz, -1))
        return x + self.ffn(self.norm_ffn(x))


def block_members(slice_shape: Triple, block: Triple) -> tuple[torch.Tensor, torch.Tensor]:
    """For every slice position: its block's members and its index inside the block.

    Returns:
        members: (N, L) int64, slice raster indices of the block's positions in block order;
        local: (N,) int64, the position's index inside its block.
    """
    t, h, w = slice_shape
    bt, bh, bw = block
    idx = torch.arange(t * h * w).reshape(1, t, h, w, 1)
    x = idx.reshape(t // bt, bt, h // bh, bh, w // bw, bw)
    blocks = x.permute(0, 2, 4, 1, 3, 5).reshape(-1, bt * bh * bw)  # (n_blocks, L)
    members = torch.empty(t * h * w, bt * bh * bw, dtype=torch.long)
    local = torch.empty(t * h * w, dtype=torch.long)
    for row in blocks:
        members[row] = row
        local[row] = torch.arange(len(row))
    return members, local
