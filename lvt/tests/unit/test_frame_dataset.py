"""FrameDataset: frames in [-1, 1] as (3, H, W), and with ``dihedral`` each frame under the
8 symmetries of the square (exactly numpy's rot90/flip images, index-determined); the
demo trains the real clips' VQ-VAE with it and the digits' without."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lvt.config import TINY_VQVAE, DemoConfig
from lvt.demo import _vqvae_setup
from lvt.train import FrameDataset


def _videos(shape: tuple[int, ...] = (2, 3, 5, 5, 3)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def test_plain_frames_are_scaled_channels_first() -> None:
    videos = _videos()
    data = FrameDataset(videos)
    assert len(data) == 6
    want = videos[1, 2].transpose(2, 0, 1).astype(np.float32) / 255.0 * 2 - 1
    np.testing.assert_allclose(data[5].numpy(), want, atol=1e-6)


def test_dihedral_items_are_the_8_symmetries_of_each_frame() -> None:
    videos = _videos()
    plain, aug = FrameDataset(videos), FrameDataset(videos, dihedral=True)
    n = len(plain)
    assert len(aug) == 8 * n
    for i in range(n):
        frame = plain[i].numpy()  # (3, H, W)
        assert np.array_equal(aug[i].numpy(), frame)  # symmetry 0: the frame itself
        got = [aug[s * n + i].numpy() for s in range(8)]
        want = [np.rot90(frame, s % 4, axes=(1, 2)) for s in range(8)]
        want = [w[:, :, ::-1] if s >= 4 else w for s, w in enumerate(want)]
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w)
        # a random frame has no symmetry: the 8 images are distinct
        assert len({g.tobytes() for g in got}) == 8
    assert np.array_equal(aug[3 * n + 1].numpy(), aug[3 * n + 1].numpy())  # no random state


def test_dihedral_needs_square_frames() -> None:
    with pytest.raises(ValueError, match="square"):
        FrameDataset(_videos((1, 2, 4, 6, 3)), dihedral=True)
    assert len(FrameDataset(_videos((1, 2, 4, 6, 3)))) == 2  # plain frames may be any shape


def test_demo_augments_only_the_clips() -> None:
    cfg = DemoConfig()
    assert _vqvae_setup(cfg, "digits") == (TINY_VQVAE, False)
    vq, dihedral = _vqvae_setup(cfg, "clips")
    assert dihedral and vq == dataclasses.replace(TINY_VQVAE, lr=cfg.clip_vqvae_lr)
    off = DemoConfig(clip_vqvae_dihedral=False, clip_vqvae_lr=TINY_VQVAE.lr)
    assert _vqvae_setup(off, "clips") == (TINY_VQVAE, False)  # the previous demo
