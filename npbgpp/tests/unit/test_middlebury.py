"""The Middlebury 2014 format through load_scene, and the real Motorcycle pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from npbgpp.cli import main
from npbgpp.config import preset
from npbgpp.data.loaders import load_scene
from npbgpp.data.motorcycle import CALIBRATION, write_motorcycle
from npbgpp.data.scene import SceneError
from npbgpp.model.baseline import render_point_colors
from npbgpp.model.pipeline import NPBGPP
from npbgpp.train import save_model
from shared_utils.cameras.middlebury import write_middlebury


def _plane_pair(root: Path) -> Path:
    """A textured fronto-parallel plane 2 m away, seen by a rectified 32 x 48 pair."""
    f, cx0, cy, doffs, baseline = 60.0, 23.5, 15.5, 4.0, 100.0
    rng = np.random.default_rng(1)
    left = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    # Z = baseline * f / (d + doffs) = 2000 mm at d = -1 (negative is allowed: d + doffs > 0)
    disp = np.full((32, 48), baseline * f / 2000.0 - doffs, dtype=np.float32)
    right = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    right[:, 1:] = left[:, :-1]  # right x = left x - d = left x + 1; column 0 is unseen
    return write_middlebury(
        root, left, right, disp, focal=f, cx0=cx0, cy=cy, doffs=doffs, baseline=baseline
    )


def test_load_scene_middlebury_downscale_and_max_points(tmp_path: Path) -> None:
    root = _plane_pair(tmp_path / "pair")
    full = load_scene(root, "middlebury")
    assert len(full) == 2 and full.masks is None
    assert full.points.shape == (32 * 48, 3)
    np.testing.assert_allclose(full.points[:, 1], 2.0, rtol=1e-5)  # depth is world +y, metres
    half = load_scene(root, "middlebury", downscale=2, max_points=500)
    assert half.images.shape == (2, 16, 24, 3) and len(half.points) == 500
    assert half.cameras[0].K[0, 0] == pytest.approx(30.0)
    again = load_scene(root, "middlebury", downscale=2, max_points=500)
    np.testing.assert_array_equal(half.points, again.points)  # the subset is reproducible
    # every kept point is one of the full cloud's, with its colour
    index = {tuple(p): i for i, p in enumerate(full.points)}
    rows = [index[tuple(p)] for p in half.points]
    assert full.colors is not None and half.colors is not None
    np.testing.assert_array_equal(half.colors, full.colors[rows])
    with pytest.raises(SceneError, match="max_points must be >= 1"):
        load_scene(root, "middlebury", max_points=0)


def test_real_motorcycle_pair_is_photo_consistent(tmp_path: Path) -> None:
    """scikit-image's Motorcycle: the left photo's points, drawn from the right camera,
    match the right photo (real data, real calibration)."""
    root = write_motorcycle(tmp_path / "motorcycle")
    assert (
        (root / "calib.txt")
        .read_text()
        .startswith(f"cam0=[{CALIBRATION['focal']:.10g} 0 {CALIBRATION['cx0']:.10g};")
    )
    scene = load_scene(root, "middlebury")
    assert scene.images.shape == (2, 500, 741, 3)
    depth = scene.points[:, 1]
    assert 2.0 < depth.min() and depth.max() < 5.5  # metres: the motorcycle and the shelves
    assert len(scene.points) > 0.9 * 500 * 741  # disp0 is known for ~93% of the pixels
    assert scene.colors is not None
    pts = scene.point_tensor()
    cols = torch.from_numpy(scene.colors)
    right = render_point_colors(pts, cols, scene.camera(1))
    truth = scene.image_tensor(1)
    hit = right.sum(0) > 0
    err = (right - truth).abs().mean(0)[hit]
    assert hit.float().mean() > 0.75  # measured 0.83: forward-warp cracks, the border strip
    assert float(err.mean()) < 0.04  # measured 0.032
    # a wrong calibration (right camera shifted 2 px) is clearly worse
    cam = scene.camera(1)
    K = cam.K.clone()
    K[0, 2] += 2
    shifted = render_point_colors(
        pts, cols, type(cam)(K, cam.cam_from_world, cam.height, cam.width)
    )
    shifted_err = float((shifted - truth).abs().mean(0)[hit].mean())
    assert shifted_err > 1.5 * float(err.mean()), shifted_err


def test_cli_eval_holds_out_the_right_photo(tmp_path: Path) -> None:
    root = _plane_pair(tmp_path / "pair")
    torch.manual_seed(0)
    save_model(NPBGPP(preset("tiny").model), tmp_path / "m.pt")
    args = ["eval", "--weights", str(tmp_path / "m.pt"), "--scene", str(root)]
    args += ["--format", "middlebury", "--out", str(tmp_path / "e.json")]
    assert main([*args, "--heldout-views", "1"]) == 0
    summary = json.loads((tmp_path / "e.json").read_text())
    # the left colours re-projected are the right photo exactly, but for column 0 (black)
    right = load_scene(root, "middlebury").images[1]
    mse = float((right[:, 0] ** 2).sum() / right.size)
    assert summary["baseline_psnr"] == pytest.approx(-10 * np.log10(mse), abs=1e-3)
    with pytest.raises(SystemExit, match="out of range for 2 views"):
        main([*args, "--heldout-views", "2"])
    with pytest.raises(SystemExit, match="every view"):
        main([*args, "--heldout-views", "0", "1"])
