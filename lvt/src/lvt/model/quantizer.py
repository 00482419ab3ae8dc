"""Multi-codebook vector quantiser with EMA codebook updates and dead-code restarts.

The D channels of the encoder output are split into n_c parts of D/n_c channels; part c
is quantised against its own codebook e^c (K x D/n_c). Codebooks are not trained by
gradients but by exponential moving averages (van den Oord et al. 2017, appendix):

    N_k <- decay * N_k + (1 - decay) * n_k          (n_k: batch assignments to code k)
    m_k <- decay * m_k + (1 - decay) * sum_{z -> k} z
    N~_k = (N_k + eps) / (sum N + K eps) * sum N    (Laplace smoothing)
    e_k = m_k / N~_k

Codes whose EMA usage N_k drops below ``dead_code_threshold`` are restarted on random
encoder outputs of the current batch (with N_k = threshold, m_k = threshold * z), so
that all K codes stay in use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lvt.kernels.vq_search import quantize_straight_through


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


@dataclass
class QuantizerOutput:
    """What the quantiser returns."""

    quantized: torch.Tensor
    """(B, D, h, w) codebook vectors, straight-through to the encoder output."""
    codes: torch.Tensor
    """(B, h, w, n_c) int64 code indices."""
    commitment: torch.Tensor
    """() mean of ||z_e - sg[e]||^2 over all elements."""
    perplexity: torch.Tensor
    """() mean over codebooks of exp(entropy of the batch's code usage)."""


class EMAQuantizer(nn.Module):
    """n_c codebooks of K entries of D/n_c channels, updated by EMA in training mode."""

    codebooks: torch.Tensor
    ema_count: torch.Tensor
    ema_sum: torch.Tensor

    def __init__(
        self,
        latent_dim: int,
        n_codebooks: int,
        codebook_size: int,
        *,
        decay: float = 0.99,
        eps: float = 1e-5,
        dead_code_threshold: float = 1.0,
        implementation: str = "auto",
    ) -> None:
        super().__init__()
        if latent_dim % n_codebooks:
            raise ValueError(f"latent_dim {latent_dim} not divisible by n_codebooks {n_codebooks}")
        self.n_codebooks, self.codebook_size = n_codebooks, codebook_size
        self.code_dim = latent_dim // n_codebooks
        self.decay, self.eps, self.dead_code_threshold = decay, eps, dead_code_threshold
        self.implementation = implementation
        init = torch.randn(n_codebooks, codebook_size, self.code_dim)
        self.register_buffer("codebooks", init.clone())
        self.register_buffer("ema_count", torch.ones(n_codebooks, codebook_size))
        self.register_buffer("ema_sum", init.clone())

    def quantize_rows(self, z: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, D/n_c) rows of part c -> straight-through quantised rows, indices (N,)."""
        return quantize_straight_through(z, self.codebooks[c], implementation=self.implementation)

    @torch.no_grad()
    def ema_update(self, c: int, z: torch.Tensor, idx: torch.Tensor) -> None:
        """One EMA step of codebook c from rows z (N, D/n_c) assigned to idx (N,)."""
        onehot = torch.zeros(z.shape[0], self.codebook_size, device=z.device, dtype=torch.float32)
        onehot[torch.arange(z.shape[0], device=z.device), idx] = 1.0
        counts = onehot.sum(0)
        sums = onehot.T @ z.float()
        if _distributed():  # every rank applies the same update from the global batch
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
        self.ema_count[c].mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum[c].mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.ema_count[c].sum()
        smoothed = (self.ema_count[c] + self.eps) / (total + self.codebook_size * self.eps) * total
        self.codebooks[c].copy_(self.ema_sum[c] / smoothed[:, None])
        self.restart_dead_codes(c, z)

    @torch.no_grad()
    def restart_dead_codes(self, c: int, z: torch.Tensor) -> int:
        """Move codes of codebook c with EMA usage below the threshold onto random rows of z.

        Returns:
            how many codes were restarted.
        """
        dead = torch.nonzero(self.ema_count[c] < self.dead_code_threshold)[:, 0]
        if dead.numel() == 0 or z.shape[0] == 0:
            return 0
        pick = torch.randint(0, z.shape[0], (dead.numel(),), device=z.device)
        fresh = z[pick].float().contiguous()
        if _distributed():  # the dead set is identical on every rank; take rank 0's vectors
            torch.distributed.broadcast(fresh, src=0)
        self.codebooks[c, dead] = fresh
        self.ema_sum[c, dead] = fresh * self.dead_code_threshold
        self.ema_count[c, dead] = self.dead_code_threshold
        return int(dead.numel())

    def forward(self, z_e: torch.Tensor) -> QuantizerOutput:
        """Quantise (B, D, h, w); updates the codebooks by EMA when ``self.training``."""
        b, d, h, w = z_e.shape
        rows = z_e.permute(0, 2, 3, 1).reshape(-1, self.n_codebooks, self.code_dim)
        parts, codes, perplexities = [], [], []
        for c in range(self.n_codebooks):
            zc = rows[:, c]
            if self.training:
                # assign against the current codebook, then update it
                _, idx = self.quantize_rows(zc.detach(), c)
                self.ema_update(c, zc.detach(), idx)
            zq, idx = self.quantize_rows(zc, c)
            parts.append(zq)
            codes.append(idx)
            # comparison + sum instead of bincount: deterministic on CUDA too
            hits = idx[:, None] == torch.arange(self.codebook_size, device=idx.device)
            usage = hits.float().mean(0)
            perplexities.append(torch.exp(-(usage * (usage + 1e-10).log()).sum()))
        zq_rows = torch.stack(parts, dim=1)  # (N, n_c, D/n_c), straight-through
        quantized = zq_rows.reshape(b, h, w, d).permute(0, 3, 1, 2)
        hard = zq_rows.detach()
        commitment = ((rows - hard) ** 2).mean()
        return QuantizerOutput(
            quantized=quantized,
            codes=torch.stack(codes, dim=1).reshape(b, h, w, self.n_codebooks),
            commitment=commitment,
            perplexity=torch.stack(perplexities).mean(),
        )

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w, n_c) int64 -> (B, D, h, w) codebook vectors."""
        b, h, w, nc = codes.shape
        if nc != self.n_codebooks:
            raise ValueError(f"codes have {nc} codebooks, the quantiser has {self.n_codebooks}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(
                f"codes must lie in [0, {self.codebook_size}), got [{int(codes.min())}, {int(codes.max())}]"
            )
        vecs = torch.stack([self.codebooks[c][codes[..., c]] for c in range(nc)], dim=3)
        return vecs.reshape(b, h, w, -1).permute(0, 3, 1, 2)
