"""VQ-VAE: EMA codebook update against a hand computation, dead-code restarts, the
straight-through gradient, shapes of the paper's sizes, and that a few steps learn."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lvt.config import TINY_VQVAE, VQVAEConfig
from lvt.model.quantizer import EMAQuantizer
from lvt.model.vqvae import VQVAE
from shared_utils.kernels import assert_close


def test_ema_update_matches_hand_computation() -> None:
    q = EMAQuantizer(2, 1, 3, decay=0.5, eps=0.1, dead_code_threshold=0.0, implementation="torch")
    q.codebooks[0] = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    q.ema_sum[0] = q.codebooks[0].clone()
    q.ema_count[0] = torch.ones(3)
    z = torch.tensor([[1.0, 0.0], [9.0, 1.0], [11.0, -1.0]])  # -> codes 0, 1, 1
    _, idx = q.quantize_rows(z, 0)
    assert idx.tolist() == [0, 1, 1]
    q.ema_update(0, z, idx)
    # N = 0.5*[1,1,1] + 0.5*[1,2,0] = [1, 1.5, 0.5]
    assert_close(q.ema_count[0], torch.tensor([1.0, 1.5, 0.5]))
    # m = 0.5*e + 0.5*sums; sums = [[1,0],[20,0],[0,0]]
    m = torch.tensor([[0.5, 0.0], [15.0, 0.0], [0.0, 5.0]])
    assert_close(q.ema_sum[0], m)
    total = 3.0
    smoothed = (torch.tensor([1.0, 1.5, 0.5]) + 0.1) / (total + 3 * 0.1) * total
    assert_close(q.codebooks[0], m / smoothed[:, None], rtol=1e-6)


def test_dead_codes_are_restarted_on_batch_vectors() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(4, 2, 8, decay=0.9, dead_code_threshold=0.5, implementation="torch")
    z = torch.randn(64, 2) * 0.01 + 100.0  # far from every initial code
    q.ema_count[0] = torch.tensor([5.0, 0.1, 5.0, 0.2, 5.0, 5.0, 5.0, 5.0])
    restarted = q.restart_dead_codes(0, z)
    assert restarted == 2
    for k in (1, 3):
        assert torch.cdist(q.codebooks[0, k][None], z).min() == 0.0
        assert q.ema_count[0, k] == 0.5
    assert q.ema_count[0, 0] == 5.0


def test_straight_through_gradient_of_the_encoder_output() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(8, 4, 16, implementation="torch").eval()
    z_e = torch.randn(2, 8, 3, 3, requires_grad=True)
    out = q(z_e)
    upstream = torch.randn_like(out.quantized)
    (out.quantized * upstream).sum().backward()
    assert z_e.grad is not None
    assert_close(z_e.grad, upstream, atol=0.0, rtol=0.0, name="straight-through gradient")
    # forward value is the codebook lookup of the codes
    assert_close(out.quantized, q.lookup(out.codes), atol=1e-6)


def test_commitment_loss_value() -> None:
    torch.manual_seed(0)
    q = EMAQuantizer(4, 2, 5, implementation="torch").eval()
    z_e = torch.randn(1, 4, 2, 2)
    out = q(z_e)
    expected = ((z_e - q.lookup(out.codes)) ** 2).mean()
    assert_close(out.commitment, expected, rtol=1e-6)


def test_paper_sizes_downsample_64_to_16() -> None:
    cfg = VQVAEConfig()
    model = VQVAE(cfg, implementation="torch").eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        out = model(x)
    assert out.codes.shape == (1, 16, 16, 4)
    assert out.reconstruction.shape == (1, 3, 64, 64)
    assert out.reconstruction.abs().max() <= 1.0
    assert cfg.code_dim == 64
    with pytest.raises(ValueError, match="divisible"):
        VQVAEConfig(latent_dim=10, n_codebooks=4)


@pytest.mark.parametrize("n_codebooks", [1, 4])
def test_a_few_steps_reduce_the_reconstruction_error(n_codebooks: int) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY_VQVAE, n_codebooks=n_codebooks, latent_dim=16)
    model = VQVAE(cfg, implementation="torch")
    x = torch.zeros(8, 3, 16, 16) - 1
    x[:, :, 4:10, 3:9] = 1.0
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(40):
        out = model(x)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = float(out.reconstruction_loss.detach()) if first is None else first
    assert float(out.reconstruction_loss.detach()) < 0.5 * first
    assert model.encode(x).shape == (8, 4, 4, n_codebooks)


def test_perplexity_counts_the_codes_in_use() -> None:
    q = EMAQuantizer(2, 1, 4, implementation="torch").eval()
    q.codebooks[0] = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    all_four = q.codebooks[0].T.reshape(1, 2, 2, 2)  # (B, D, h, w): one row per code
    assert float(q(all_four).perplexity) == pytest.approx(4.0, rel=1e-6)
    one = torch.zeros(1, 2, 2, 2)
    assert float(q(one).perplexity) == pytest.approx(1.0, rel=1e-6)
