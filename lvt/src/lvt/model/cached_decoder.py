"""The decoder of the latent video transformer run one position at a time, with caches.

While a slice is generated, the decoder output at position p depends only on the codes
of positions < p of that slice (masked 3x3x3 convolution, masked block-local attention)
and on the encoder output, which is fixed for the whole slice. :class:`CachedSliceDecoder`
keeps, per slice:

- the code embeddings written so far on a zero-padded grid, so the masked convolution at
  p is one gather of its 13 causal neighbours and one matrix product;
- per decoder layer, the keys and values of the positions already seen, stored per
  attention block in block order, so a position attends to a contiguous prefix
  ``[:local + 1]`` of its block's cache (no gather, no mask);
- the relative-position biases of every (local index, earlier index) pair, summed once
  per sampling call instead of once per step and layer.

Everything the profile of the per-position loop showed as overhead (module call
machinery, per-step bias sums, gathers of cached keys, tensor-to-int conversions of
indices) is computed once in ``__init__`` or once per slice. A raster prefix of already
known (primed) positions is run through the full, parallel decoder in one pass that
fills the caches instead of one step per position.

The functions computed are those of ``LatentVideoTransformer.decode`` followed by the
``ChannelPredictor`` (base terms, then code k's logits given codes < k, drawn with
:func:`lvt.draw.draw`); only the order of floating-point operations differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lvt.draw import draw
from lvt.model.layers import BlockSelfAttentionLayer, causal_kernel_mask
from lvt.model.transformer import LatentVideoTransformer


@dataclass
class _LayerWeights:
    """The tensors of one masked attention layer, fetched once (no module calls per step)."""

    norm1: tuple[torch.Tensor, torch.Tensor, float]
    """LayerNorm (weight, bias, eps) before attention."""
    qkv: torch.Tensor
    """(3 * heads * d_a, d) query/key/value projection."""
    out_t: torch.Tensor
    """(heads * d_a, d) output projection, transposed for ``addmm``."""
    norm2: tuple[torch.Tensor, torch.Tensor, float]
    """LayerNorm (weight, bias, eps) before the feed-forward."""
    ffn: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    """(W1, b1, W2, b2) of the feed-forward."""
    bias: list[torch.Tensor]
    """Per local index l: (B * heads, 1, l + 1) relative biases towards entries <= l."""
    kv: torch.Tensor
    """(2, n_blocks, B, heads, L, d_a) the cached keys and values of the current slice."""
    write: list[torch.Tensor]
    """Per position: the (2, B, heads, d_a) view of ``kv`` holding its key and value."""
    keys_t: list[torch.Tensor]
    """Per position: (B * heads, d_a, l + 1) view of the keys of its block up to itself."""
    values: list[torch.Tensor]
    """Per position: (B * heads, l + 1, d_a) view of the values of its block up to itself."""


def _norm(module: torch.nn.LayerNorm) -> tuple[torch.Tensor, torch.Tensor, float]:
    return module.weight.detach(), module.bias.detach(), module.eps


class CachedSliceDecoder:
    """Step the decoder through one slice, position by position in raster order.

    Usage per slice: :meth:`start_slice`, then for every position p >= ``known`` in
    order: :meth:`sample_position` (decoder step, channel predictor, draws, commit).
    """

    def __init__(self, model: LatentVideoTransformer, batch: int) -> None:
        cfg = model.cfg
        self.model, self.batch = model, batch
        self.heads, self.da, self.dim = cfg.heads, cfg.attention_dim, cfg.hidden_dim
        self.scale = 1.0 / math.sqrt(cfg.attention_dim)
        tp, hp, wp = cfg.slice_shape
        bt, bh, bw = cfg.effective_block_shape
        self.n_positions, self.block_length = tp * hp * wp, bt * bh * bw
        n_blocks = (tp // bt) * (hp // bh) * (wp // bw)
        device, dtype = model.positions.device, model.positions.dtype
        raster = [(t, y, x) for t in range(tp) for y in range(hp) for x in range(wp)]
        block_of = [((t // bt) * (hp // bh) + y // bh) * (wp // bw) + x // bw for t, y, x in raster]
        local_of = [((t % bt) * bh + y % bh) * bw + x % bw for t, y, x in raster]
        self.local_of = local_of

        # masked convolution: only the causal taps, on a flattened zero-padded grid
        conv = model.decoder_conv
        kt, kh, kw = conv.kernel
        grid = (tp + 2 * (kt // 2), hp + 2 * (kh // 2), wp + 2 * (kw // 2))
        taps = causal_kernel_mask(conv.kernel).nonzero().tolist()  # [(dt, dy, dx)] kernel coords
        weight = conv.weight.detach()[:, :, [a for a, _, _ in taps], [b for _, b, _ in taps],
                                      [c for _, _, c in taps]]  # fmt: skip
        # (out, in, taps) -> (taps * in, out): rows in the order of the gathered embeddings
        self.conv_weight_t = weight.permute(2, 1, 0).reshape(-1, weight.shape[0]).contiguous()
        self.conv_bias = conv.bias.detach()

        def cell(t: int, y: int, x: int) -> int:
            return (t * grid[1] + y) * grid[2] + x

        self.slot_of = [cell(t + kt // 2, y + kh // 2, x + kw // 2) for t, y, x in raster]
        offsets = torch.tensor([cell(a, b, c) for a, b, c in taps], device=device)
        corner = torch.tensor([cell(t, y, x) for t, y, x in raster], device=device)
        # per position: the cells of its causal neighbours, (n_taps,) each
        self.gather = list((corner[:, None] + offsets[None, :]).unbind(0))
        self.slots = torch.tensor(self.slot_of, device=device)
        de = model.decoder_embedding.embedding_dim
        self.embedded = torch.zeros(
            batch, grid[0] * grid[1] * grid[2], de, device=device, dtype=dtype
        )

        # attention layers: weights, per-local-index relative biases, cache views
        bh_ = batch * self.heads
        self.layers: list[_LayerWeights] = []
        for layer in model.decoder_layers:
            assert isinstance(layer, BlockSelfAttentionLayer) and layer.masked
            full = layer.relative_bias().detach()  # (heads, L, L)
            ffn1, ffn2 = layer.ffn[0], layer.ffn[2]
            assert isinstance(ffn1, torch.nn.Linear) and isinstance(ffn2, torch.nn.Linear)
            kv = torch.zeros(
                2,
                n_blocks,
                batch,
                self.heads,
                self.block_length,
                self.da,
                device=device,
                dtype=dtype,
            )
            merged = kv.view(2, n_blocks, bh_, self.block_length, self.da)
            self.layers.append(
                _LayerWeights(
                    norm1=_norm(layer.norm_attention),
                    qkv=layer.qkv.weight.detach(),
                    out_t=layer.out.weight.detach().t(),
                    norm2=_norm(layer.norm_ffn),
                    ffn=(
                        ffn1.weight.detach(),
                        ffn1.bias.detach(),
                        ffn2.weight.detach(),
                        ffn2.bias.detach(),
                    ),
                    bias=[
                        full[:, i : i + 1, : i + 1].repeat(batch, 1, 1)
                        for i in range(self.block_length)
                    ],
                    kv=kv,
                    write=[kv[:, blk, :, :, loc] for blk, loc in zip(block_of, local_of)],
                    keys_t=[
                        merged[0, blk, :, : loc + 1].transpose(1, 2)
                        for blk, loc in zip(block_of, local_of)
                    ],
                    values=[merged[1, blk, :, : loc + 1] for blk, loc in zip(block_of, local_of)],
                )
            )

        # channel predictor (after the decoder's final norm)
        pred = model.predictor
        nc, k = cfg.n_codebooks, cfg.codebook_size
        self.final_norms = (_norm(model.decoder_norm), _norm(pred.norm))
        self.base = (pred.base.weight.detach(), pred.base.bias.detach())
        # previous[k][j]: the (K, d) table of code j's term in h_k (ChannelPredictor._pair)
        self.previous: list[list[torch.Tensor]] = [[] for _ in range(nc)]
        if pred.previous is not None:
            table = pred.previous.weight.detach()
            for i in range(nc):
                for j in range(i):
                    pair = i * (i - 1) // 2 + j
                    self.previous[i].append(table[pair * k : (pair + 1) * k])
        self.heads_w = list(pred.heads.detach().unbind(0))
        self.head_bias = list(pred.head_bias.detach().unbind(0))
        self.n_codebooks = nc
        # per codebook (K, d_e) decoder embedding tables
        self.embedding = list(model.decoder_embedding.weight.detach().split(k))
        self.additive: list[torch.Tensor] = []

    def start_slice(self, slice_codes: torch.Tensor, context: torch.Tensor, known: int) -> None:
        """Reset the caches for a new slice.

        Args:
            slice_codes: (B, t', h', w', n_c) the slice's codes; the first ``known``
                positions (raster order) are final, the rest are ignored.
            context: (B, t', h', w', d) the encoder output for this slice.
            known: length of the raster prefix of final positions (primed frames); they
                are run through the parallel decoder at once to fill the caches.
        """
        model, b = self.model, self.batch
        additive = model.positions + model.condition(context) + self.conv_bias
        # per position (B, d); the convolution bias is folded in once per slice
        self.additive = list(additive.reshape(b, self.n_positions, -1).unbind(1))
        self.embedded.zero_()
        if known == 0:
            return  # every cache entry is written by its own step before it is read
        # Embeddings of all positions (those >= known are overwritten by commit() before
        # any later position reads them), then the parallel decoder for the prefix.
        emb = model.embed(model.decoder_embedding, slice_codes)  # (B, t', h', w', d_e)
        self.embedded[:, self.slots] = emb.reshape(b, self.n_positions, -1)
        x = model.decoder_input(slice_codes, context)
        for layer, weights in zip(model.decoder_layers, self.layers):
            assert isinstance(layer, BlockSelfAttentionLayer)
            blocks = layer._blocks(layer.norm_attention(x))  # (B * n_blocks, L, d)
            qkv = F.linear(blocks, weights.qkv).unflatten(-1, (3, self.heads, self.da))
            # (B * n_blocks, L, 3, H, da) -> (3, n_blocks, B, H, L, da); keys and values only
            qkv = qkv.unflatten(0, (b, -1)).permute(3, 1, 0, 4, 2, 5)
            weights.kv.copy_(qkv[1:])
            x = layer(x)

    def decode(self, p: int) -> torch.Tensor:
        """The decoder output at position p, before the final norm: (B, d).

        Writes the keys/values of p into the caches; positions < p must be committed.
        """
        b, h, da = self.batch, self.heads, self.da
        shape = (self.dim,)
        g = self.embedded[:, self.gather[p]].reshape(b, -1)
        x = torch.addmm(self.additive[p], g, self.conv_weight_t)
        local = self.local_of[p]
        for w in self.layers:
            qkv = F.linear(torch.layer_norm(x, shape, *w.norm1), w.qkv).view(b, 3, h, da)
            w.write[p].copy_(qkv[:, 1:].transpose(0, 1))
            q = qkv[:, 0].reshape(b * h, 1, da)
            logits = torch.baddbmm(w.bias[local], q, w.keys_t[p], alpha=self.scale)
            att = torch.bmm(torch.softmax(logits, dim=-1), w.values[p])  # (B * H, 1, da)
            x = torch.addmm(x, att.view(b, h * da), w.out_t)
            w1, b1, w2, b2 = w.ffn
            hidden = torch.relu(F.linear(torch.layer_norm(x, shape, *w.norm2), w1, b1))
            x = x + F.linear(hidden, w2, b2)
        return x

    def sample_position(
        self, p: int, uniforms: Sequence[torch.Tensor], temperature: float
    ) -> list[torch.Tensor]:
        """Decode position p, draw its n_c codes one after another, commit them.

        Args:
            uniforms: n_c tensors (B, 1) float64, the pre-drawn uniforms of the codes.

        Returns:
            n_c tensors (B,) int64: the codes of the position.
        """
        shape = (self.dim,)
        (n1, n2) = self.final_norms
        y = torch.layer_norm(torch.layer_norm(self.decode(p), shape, *n1), shape, *n2)
        bases = F.linear(y, *self.base).view(self.batch, self.n_codebooks, -1).unbind(1)
        codes: list[torch.Tensor] = []
        for k in range(self.n_codebooks):
            hk = bases[k]
            for j, table in enumerate(self.previous[k]):
                hk = hk + table[codes[j]]
            logits = torch.addmm(self.head_bias[k], torch.relu(hk), self.heads_w[k])
            codes.append(draw(logits, uniforms[k], temperature))
        emb = self.embedding[0][codes[0]]
        for k in range(1, self.n_codebooks):
            emb = emb + self.embedding[k][codes[k]]
        self.embedded[:, self.slot_of[p]] = emb
        return codes
