"""The latent video transformer: an encoder over already generated slices, a decoder
over the current slice, and a per-position channel predictor (eq. 2 of the paper).

For slice number i (subscale order) the encoder embeds the whole latent video with the
codes of slices >= i zeroed out, downsamples it by a strided 3D convolution (stride = the
subscale factors, so the output has the slice's shape), adds an embedding of i and 3D
sinusoidal positions, and runs unmasked block-local attention layers. The decoder embeds
the current slice's codes, applies a masked 3x3x3 convolution (each position sees only
raster-earlier positions), adds positions and the encoder output, and runs masked
block-local attention layers. The channel predictor turns the decoder output at a
position plus the codes of the position's earlier channels into logits for each code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lvt.config import TransformerConfig
from lvt.model.layers import BlockSelfAttentionLayer, MaskedConv3d, sinusoid_3d
from lvt.model.subscale import from_slices, slice_numbers, to_slices


class ChannelPredictor(nn.Module):
    """Logits of the n_c codes of a position, code k conditioned on the codes < k there.

    h_k = A_k LN(y) + sum_{j<k} C_{k,j}[z_j] + b_k;  logits_k = P_k relu(h_k).
    """

    def __init__(self, dim: int, n_codebooks: int, codebook_size: int) -> None:
        super().__init__()
        self.n_codebooks, self.codebook_size = n_codebooks, codebook_size
        self.norm = nn.LayerNorm(dim)
        self.base = nn.Linear(dim, n_codebooks * dim)
        n_pairs = n_codebooks * (n_codebooks - 1) // 2
        # None for n_c = 1, so that DDP never sees a parameter without gradient
        self.previous = nn.Embedding(n_pairs * codebook_size, dim) if n_pairs else None
        self.heads = nn.Parameter(torch.randn(n_codebooks, dim, codebook_size) * dim**-0.5)
        self.head_bias = nn.Parameter(torch.zeros(n_codebooks, codebook_size))

    def _pair(self, k: int, j: int) -> int:
        return k * (k - 1) // 2 + j

    def channel_logits(self, base: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
        """Logits of code k.

        Args:
            base: (..., n_c, dim) the ``A LN(y) + b`` terms.
            codes: (..., n_c) int64; only codes[..., :k] are read.

        Returns:
            (..., K).
        """
        h = base[..., k, :]
        for j in range(k):
            assert self.previous is not None
            h = h + self.previous(codes[..., j] + self._pair(k, j) * self.codebook_size)
        return F.relu(h) @ self.heads[k] + self.head_bias[k]

    def base_terms(self, y: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., n_c, dim)."""
        return self.base(self.norm(y)).unflatten(-1, (self.n_codebooks, -1))

    def forward(self, y: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """(..., dim), (..., n_c) teacher-forced codes -> logits (..., n_c, K)."""
        base = self.base_terms(y)
        return torch.stack(
            [self.channel_logits(base, codes, k) for k in range(self.n_codebooks)], dim=-2
        )


class LatentVideoTransformer(nn.Module):
    """p(Z) over latent videos Z in [K]^{T x h x w x n_c}, factorised as in eq. (2)."""

    positions: torch.Tensor
    code_offsets: torch.Tensor
    slice_of_position: torch.Tensor

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        nc, k, de, d = cfg.n_codebooks, cfg.codebook_size, cfg.embedding_dim, cfg.hidden_dim
        block = cfg.effective_block_shape
        # encoder
        self.encoder_embedding = nn.Embedding(nc * k, de)
        self.encoder_conv = nn.Conv3d(de, de, cfg.encoder_kernel, stride=cfg.subscale)
        self.slice_embedding = nn.Embedding(cfg.n_slices, de)
        self.encoder_in = nn.Linear(de, d)
        self.encoder_layers = nn.ModuleList(
            BlockSelfAttentionLayer(
                d, cfg.attention_dim, cfg.heads, cfg.ffn_dim, block, masked=False
            )
            for _ in range(cfg.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d)
        # decoder
        self.decoder_embedding = nn.Embedding(nc * k, de)
        self.decoder_conv = MaskedConv3d(de, d, (3, 3, 3))
        self.condition = nn.Linear(d, d, bias=False)
        self.decoder_layers = nn.ModuleList(
            BlockSelfAttentionLayer(
                d, cfg.attention_dim, cfg.heads, cfg.ffn_dim, block, masked=True
            )
            for _ in range(cfg.decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(d)
        self.predictor = ChannelPredictor(d, nc, k)
        self.register_buffer("positions", sinusoid_3d(cfg.slice_shape, d), persistent=False)
        offsets = torch.arange(nc) * k
        self.register_buffer("code_offsets", offsets, persistent=False)
        self.register_buffer(
            "slice_of_position", slice_numbers(cfg.video_shape, cfg.subscale), persistent=False
        )

    def slice_positions(self, slice_shape: tuple[int, ...]) -> torch.Tensor:
        """(t', h', w', d) positional encodings of a slice grid (any clip length)."""
        if tuple(self.positions.shape[:3]) == tuple(slice_shape):
            return self.positions
        shape = (slice_shape[0], slice_shape[1], slice_shape[2])
        return sinusoid_3d(shape, self.cfg.hidden_dim).to(self.positions.device)

    def position_slices(self, video_shape: tuple[int, ...]) -> torch.Tensor:
        """(T, h, w) slice number of every position of a video of this shape."""
        if tuple(self.slice_of_position.shape) == tuple(video_shape):
            return self.slice_of_position
        shape = (video_shape[0], video_shape[1], video_shape[2])
        return slice_numbers(shape, self.cfg.subscale).to(self.slice_of_position.device)

    def embed(self, table: nn.Embedding, codes: torch.Tensor) -> torch.Tensor:
        """(..., n_c) codes -> (..., d_e): the sum of the per-codebook embeddings."""
        return table(codes + self.code_offsets).sum(-2)

    def encode(self, codes: torch.Tensor, slice_index: torch.Tensor) -> torch.Tensor:
        """Representation of the slices generated before ``slice_index``.

        Args:
            codes: (B, T, h, w, n_c) int64; codes of slices >= slice_index are ignored.
            slice_index: (B,) int64.

        Returns:
            (B, t', h', w', d) on the slice grid.
        """
        slices = self.position_slices(codes.shape[1:4])
        known = slices[None] < slice_index[:, None, None, None]  # (B, T, h, w)
        x = self.embed(self.encoder_embedding, codes) * known[..., None]
        x = x.permute(0, 4, 1, 2, 3)
        pad: list[int] = []
        for kernel, stride in reversed(list(zip(self.cfg.encoder_kernel, self.cfg.subscale))):
            total = max(kernel - stride, 0)
            pad += [total // 2, total - total // 2]
        x = self.encoder_conv(F.pad(x, pad)).permute(0, 2, 3, 4, 1)
        x = x + self.slice_embedding(slice_index)[:, None, None, None, :]
        x = self.encoder_in(x) + self.slice_positions(x.shape[1:4])
        for layer in self.encoder_layers:
            x = layer(x)
        return self.encoder_norm(x)

    def decoder_input(self, slice_codes: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """(B, t', h', w', n_c), (B, t', h', w', d) -> the first decoder layer's input."""
        x = self.decoder_conv(self.embed(self.decoder_embedding, slice_codes))
        return x + self.slice_positions(x.shape[1:4]) + self.condition(context)

    def decode(self, slice_codes: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """(B, t', h', w', n_c), (B, t', h', w', d) -> (B, t', h', w', d) decoder output."""
        x = self.decoder_input(slice_codes, context)
        for layer in self.decoder_layers:
            x = layer(x)
        return self.decoder_norm(x)

    def forward(self, codes: torch.Tensor, slice_index: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of one slice per video.

        Args:
            codes: (B, T, h, w, n_c) int64 the whole latent video.
            slice_index: (B,) int64 which slice to predict in each video.

        Returns:
            (B, t', h', w', n_c, K) logits of the codes of slice ``slice_index``.
        """
        current = self.slice_codes(codes, slice_index)
        y = self.decode(current, self.encode(codes, slice_index))
        return self.predictor(y, current)

    def video_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of every code of the video (one pass per slice).

        Args:
            codes: (B, T, h, w, n_c) int64.

        Returns:
            (B, T, h, w, n_c, K).
        """
        b = codes.shape[0]
        per_slice = [
            self(codes, torch.full((b,), i, dtype=torch.long, device=codes.device))
            for i in range(self.cfg.n_slices)
        ]
        return from_slices(torch.stack(per_slice, dim=1), self.cfg.subscale)

    def slice_codes(self, codes: torch.Tensor, slice_index: torch.Tensor) -> torch.Tensor:
        """(B, T, h, w, n_c), (B,) -> (B, t', h', w', n_c) the chosen slice of each video."""
        slices = to_slices(codes, self.cfg.subscale)
        return slices[torch.arange(codes.shape[0], device=codes.device), slice_index]
