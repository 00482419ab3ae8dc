"""Codes on disk (extraction, memory-mapped clips), bits/dim, losses, baselines, checkpoints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lvt.checkpoints import CheckpointError, load_transformer, load_vqvae, save_model
from lvt.config import TINY_TRANSFORMER, TINY_VQVAE
from lvt.data.codes import CodesDataset, CodesFormatError, extract_codes
from lvt.evaluation import copy_last_frame, image_metrics, latent_bits_per_dim
from lvt.losses import slice_loss, trainable_slices
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE
from shared_utils.metrics.bits import bits_per_dim, entropy_bits

SMALL = dataclasses.replace(
    TINY_TRANSFORMER, video_shape=(4, 4, 4), block_shape=(2, 2, 2), hidden_dim=24, ffn_dim=24,
    embedding_dim=12, attention_dim=6, heads=2, encoder_layers=1, decoder_layers=1, codebook_size=8,
)  # fmt: skip


def test_bits_per_dim_of_a_known_distribution_is_its_entropy() -> None:
    p = torch.tensor([0.5, 0.25, 0.125, 0.125])
    gen = torch.Generator().manual_seed(0)
    targets = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    logits = p.log().expand(len(targets), 4)
    assert abs(bits_per_dim(logits, targets) - float(entropy_bits(p))) < 0.01
    assert float(entropy_bits(p)) == pytest.approx(1.75)
    uniform = torch.zeros(1000, 32)
    assert bits_per_dim(uniform, torch.randint(0, 32, (1000,))) == pytest.approx(5.0)


def test_latent_bits_excludes_primed_frames_and_matches_the_loss() -> None:
    torch.manual_seed(0)
    model = LatentVideoTransformer(SMALL).eval()
    codes = torch.randint(0, SMALL.codebook_size, (2, *SMALL.video_shape, SMALL.n_codebooks))
    bits = latent_bits_per_dim(model, [codes])
    with torch.no_grad():
        logits = model.video_logits(codes)
    manual = torch.nn.functional.cross_entropy(
        logits[:, 1:].reshape(-1, SMALL.codebook_size), codes[:, 1:].reshape(-1)
    ) / math.log(2)
    assert bits == pytest.approx(float(manual), rel=1e-5)
    # per-slice losses, weighted by their scored codes, give the same number
    total, count = 0.0, 0.0
    with torch.no_grad():
        for s in trainable_slices(model).tolist():
            loss, n = slice_loss(model, codes, torch.full((2,), s))
            total += float(loss) * float(n)
            count += float(n)
    assert total / count / math.log(2) == pytest.approx(bits, rel=1e-5)
    assert count == 2 * 3 * 4 * 4 * SMALL.n_codebooks


def test_frame_by_frame_skips_the_fully_primed_slice() -> None:
    cfg = dataclasses.replace(SMALL, subscale=(4, 1, 1), block_shape=(1, 4, 4))
    assert trainable_slices(LatentVideoTransformer(cfg)).tolist() == [1, 2, 3]


def test_extract_codes_and_memory_mapped_clips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vqvae = VQVAE(TINY_VQVAE, implementation="torch").eval()
    rng = np.random.default_rng(0)
    videos = [(f"v{i}", rng.integers(0, 256, (6 + i, 16, 16, 3), dtype=np.uint8)) for i in range(3)]
    paths = extract_codes(vqvae, videos, tmp_path / "codes", batch_frames=4)
    assert [p.name for p in paths] == ["v0.npy", "v1.npy", "v2.npy"]
    first = np.load(paths[0])
    x = torch.from_numpy(videos[0][1].astype(np.float32) / 255).permute(0, 3, 1, 2) * 2 - 1
    assert np.array_equal(first, vqvae.encode(x).numpy())
    assert first.shape == (6, 4, 4, TINY_VQVAE.n_codebooks) and first.dtype == np.int16
    data = CodesDataset(tmp_path / "codes", 4, stride=2)
    assert isinstance(data.arrays[0], np.memmap)
    # v0: 6 frames -> starts 0, 2; v1: 7 -> 0, 2; v2: 8 -> 0, 2, 4
    assert len(data) == 7
    clip = data[6]
    assert clip.dtype == torch.int64 and torch.equal(
        clip, torch.from_numpy(np.load(paths[2])[4:8].astype(np.int64))
    )


def test_codes_dataset_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(CodesFormatError, match=r"no \.npy"):
        CodesDataset(tmp_path, 4)
    np.save(tmp_path / "a.npy", np.zeros((5, 4, 4, 2), dtype=np.int16))
    np.save(tmp_path / "b.npy", np.zeros((5, 4, 4), dtype=np.int16))
    with pytest.raises(CodesFormatError, match=r"b\.npy"):
        CodesDataset(tmp_path, 4)
    (tmp_path / "b.npy").unlink()
    (tmp_path / "c.npy").write_bytes(b"junk")
    with pytest.raises(CodesFormatError, match=r"c\.npy"):
        CodesDataset(tmp_path, 4)


def test_copy_last_frame_and_image_metrics() -> None:
    videos = np.random.default_rng(0).random((2, 5, 16, 16, 3)).astype(np.float32)
    base = copy_last_frame(videos, 2)
    assert base.shape == (2, 3, 16, 16, 3)
    assert np.array_equal(base[:, 2], videos[:, 1])
    m = image_metrics(videos, videos)
    assert m["psnr"] == 100.0 and m["ssim"] == pytest.approx(1.0)
    noisy = np.clip(videos + 0.1, 0, 1)
    expected = 10 * np.log10(1 / np.mean((noisy[0, 0] - videos[0, 0]) ** 2))
    assert image_metrics(noisy[:1, :1], videos[:1, :1])["psnr"] == pytest.approx(expected, rel=1e-4)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LatentVideoTransformer(SMALL)
    save_model(tmp_path / "t.pt", model)
    loaded = load_transformer(tmp_path / "t.pt")
    assert loaded.cfg == SMALL
    codes = torch.randint(0, 8, (1, *SMALL.video_shape, 2))
    with torch.no_grad():
        assert torch.equal(loaded(codes, torch.tensor([3])), model.eval()(codes, torch.tensor([3])))
    vq = VQVAE(TINY_VQVAE)
    save_model(tmp_path / "v.pt", vq)
    assert torch.equal(load_vqvae(tmp_path / "v.pt").quantizer.codebooks, vq.quantizer.codebooks)
    with pytest.raises(ValueError, match="kind"):
        load_vqvae(tmp_path / "t.pt")
    # the shared checkpoint format: a sha256 sidecar beside the file
    assert (tmp_path / "t.pt.sha256").read_text().split()[1] == "t.pt"


def test_corrupted_or_missing_model_file_is_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = save_model(tmp_path / "run" / "model.pt", LatentVideoTransformer(SMALL))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the tensor data
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.pt is corrupted or truncated"):
        load_transformer(path)
    path.write_bytes(bytes(data[: len(data) // 3]))  # a truncated copy
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_transformer(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_vqvae(tmp_path / "missing.pt")
    (tmp_path / "run" / "model.pt.sha256").unlink()
    with pytest.raises(CheckpointError, match="no hash file"):
        load_transformer(path)


def test_with_real_priming_keeps_samples_and_swaps_primes() -> None:
    from lvt.evaluation import with_real_priming

    rng = np.random.default_rng(0)
    real = rng.random((2, 5, 4, 4, 3)).astype(np.float32)
    fake = rng.random((2, 5, 4, 4, 3)).astype(np.float32)
    out = with_real_priming(fake, real, 2)
    np.testing.assert_array_equal(out[:, :2], real[:, :2])
    np.testing.assert_array_equal(out[:, 2:], fake[:, 2:])
    np.testing.assert_array_equal(with_real_priming(fake, real, 0), fake)
    assert not np.shares_memory(out, fake)
    with pytest.raises(ValueError, match="differ"):
        with_real_priming(fake[:, :4], real, 1)
    with pytest.raises(ValueError, match="outside"):
        with_real_priming(fake, real, 6)


def test_comparison_grid_shows_real_priming_frames_in_both_columns() -> None:
    from lvt.evaluation import comparison_grid

    rng = np.random.default_rng(1)
    n, t, h, w, n_prime = 3, 5, 4, 6, 2
    real = rng.random((n, t, h, w, 3)).astype(np.float32)
    fake = rng.random((n, t, h, w, 3)).astype(np.float32)  # stands for decoded primes + samples
    grid = comparison_grid(real, fake, n_prime)
    assert grid.shape == (t, n * h, 2 * w, 3)
    for i in range(n):
        rows = slice(i * h, (i + 1) * h)
        left, right = grid[:, rows, :w], grid[:, rows, w:]
        np.testing.assert_array_equal(left, real[i])  # the real video, every frame
        np.testing.assert_array_equal(right[:n_prime], real[i, :n_prime])  # real primes, exact
        np.testing.assert_array_equal(right[n_prime:], fake[i, n_prime:])  # then the samples
    # values outside [0, 1] (a decoder overshoot) are clipped, the inputs are left alone
    loud = fake * 3 - 1
    clipped = comparison_grid(real, loud, n_prime)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert loud.max() > 1
