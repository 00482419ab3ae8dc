"""The frame autoencoder: residual conv encoder (x4 down), n_c-codebook EMA quantiser,
mirrored residual decoder ending in tanh. Frames are in [-1, 1] inside the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lvt.config import VQVAEConfig
from lvt.model.quantizer import EMAQuantizer


class ResidualBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))) with a narrower middle."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _residual_stack(channels: int, hidden: int, n: int) -> nn.Sequential:
    return nn.Sequential(*[ResidualBlock(channels, hidden) for _ in range(n)], nn.ReLU())


class Encoder(nn.Module):
    """(B, 3, H, W) -> (B, D, H/down, W/down)."""

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        n_down = int(math.log2(cfg.downsample))
        layers: list[nn.Module] = []
        ch = cfg.in_channels
        for i in range(n_down):
            out = cfg.filters if i == n_down - 1 else cfg.filters // 2
            layers += [nn.Conv2d(ch, out, 4, stride=2, padding=1), nn.ReLU()]
            ch = out
        layers += [
            nn.Conv2d(ch, cfg.filters, 3, padding=1),
            _residual_stack(cfg.filters, cfg.residual_channels, cfg.residual_blocks),
            nn.Conv2d(cfg.filters, cfg.latent_dim, 1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, D, h, w) -> (B, 3, h*down, w*down) in [-1, 1]."""

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        n_up = int(math.log2(cfg.downsample))
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.latent_dim, cfg.filters, 3, padding=1),
            _residual_stack(cfg.filters, cfg.residual_channels, cfg.residual_blocks),
        ]
        ch = cfg.filters
        for i in range(n_up):
            last = i == n_up - 1
            out = cfg.in_channels if last else cfg.filters // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.ReLU())
            ch = out
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z))


@dataclass
class VQVAEOutput:
    """Reconstruction and losses of a batch of frames."""

    reconstruction: torch.Tensor
    """(B, 3, H, W) in [-1, 1]."""
    codes: torch.Tensor
    """(B, h, w, n_c) int64."""
    loss: torch.Tensor
    """() reconstruction MSE + beta * commitment."""
    reconstruction_loss: torch.Tensor
    """() mean squared error in [-1, 1] units."""
    commitment: torch.Tensor
    """() commitment term."""
    perplexity: torch.Tensor
    """() mean codebook perplexity of the batch."""


class VQVAE(nn.Module):
    """Frame autoencoder with a discrete latent of (H/down) x (W/down) x n_c codes."""

    def __init__(self, cfg: VQVAEConfig, *, implementation: str = "auto") -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = EMAQuantizer(
            cfg.latent_dim,
            cfg.n_codebooks,
            cfg.codebook_size,
            decay=cfg.ema_decay,
            eps=cfg.ema_eps,
            dead_code_threshold=cfg.dead_code_threshold,
            implementation=implementation,
        )
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor) -> VQVAEOutput:
        """x: (B, 3, H, W) in [-1, 1]."""
        q = self.quantizer(self.encoder(x))
        recon = self.decoder(q.quantized)
        rec_loss = F.mse_loss(recon, x)
        return VQVAEOutput(
            reconstruction=recon,
            codes=q.codes,
            loss=rec_loss + self.cfg.commitment_beta * q.commitment,
            reconstruction_loss=rec_loss,
            commitment=q.commitment,
            perplexity=q.perplexity,
        )

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> codes (B, h, w, n_c) int64 (no codebook update)."""
        z = self.encoder(x)
        b, _, h, w = z.shape
        rows = z.permute(0, 2, 3, 1).reshape(-1, self.cfg.n_codebooks, self.quantizer.code_dim)
        codes = [
            self.quantizer.quantize_rows(rows[:, c], c)[1] for c in range(self.cfg.n_codebooks)
        ]
        return torch.stack(codes, dim=1).reshape(b, h, w, self.cfg.n_codebooks)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, h, w, n_c) int64 -> (B, 3, H, W) in [-1, 1]."""
        return self.decoder(self.quantizer.lookup(codes))
