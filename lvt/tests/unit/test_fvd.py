"""FVD through lvt.evaluation with an I3D weights file in the format load_i3d reads
(``random_random_i3d_file`` in tests/conftest.py: random weights of shared_utils' I3D class).

Clips are 8 frames of 32 x 32, fed to I3D at 32 x 32 instead of the protocol's 224, so
the test runs in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lvt.data.digits import MovingDigitsConfig, moving_digits
from lvt.evaluation import fvd_or_reason


def _videos(seed: int) -> np.ndarray:
    cfg = MovingDigitsConfig(n_videos=4, frames=8, size=32, seed=seed)
    return moving_digits(cfg).astype(np.float32) / 255.0


def test_fvd_is_zero_on_identical_sets_and_grows_with_noise(random_i3d_file: Path) -> None:
    real = _videos(0)
    noise = np.random.default_rng(0).standard_normal(real.shape).astype(np.float32)
    values = []
    for sigma in (0.0, 0.05, 0.2, 0.5):
        fake = np.clip(real + sigma * noise, 0.0, 1.0)
        value, reason = fvd_or_reason(real, fake, random_i3d_file, resolution=32)
        assert reason == "" and value is not None and np.isfinite(value)
        values.append(value)
    assert abs(values[0]) < 1e-6 * values[1]
    assert values[1] < values[2] < values[3]
    # symmetric in its arguments, positive between different sets of videos
    other = _videos(1)
    ab = fvd_or_reason(real, other, random_i3d_file, resolution=32)[0]
    ba = fvd_or_reason(other, real, random_i3d_file, resolution=32)[0]
    assert ab is not None and ba is not None and ab > 0
    assert ab == pytest.approx(ba, rel=1e-6)


def test_missing_weights_give_a_clear_message(tmp_path: Path) -> None:
    videos = _videos(0)
    value, reason = fvd_or_reason(videos, videos, None)
    assert value is None and "--i3d-weights" in reason
    with pytest.raises(FileNotFoundError, match=r"I3D weights not found at .*absent\.pt"):
        fvd_or_reason(videos, videos, tmp_path / "absent.pt", resolution=32)
