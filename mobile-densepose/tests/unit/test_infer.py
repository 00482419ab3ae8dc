"""IUV decoding of predictor maps, the overlay colours, and infer_path end to end."""

from pathlib import Path

import numpy as np
import torch

from mobile_densepose.config import model_preset
from mobile_densepose.eval.densepose_ap import maps_to_iuv
from mobile_densepose.infer import infer_path, iuv_image, overlay
from mobile_densepose.model.rcnn import DensePoseRCNN
from shared_utils.io.images import read_image, write_image
from shared_utils.io.video import read_video, write_video


def test_maps_to_iuv_masks_background_and_reads_chart_uv() -> None:
    coarse = torch.zeros(1, 15, 2, 2)
    coarse[0, 0, 0, 0] = 5.0  # background at (0, 0)
    coarse[0, 3, 0, 1] = coarse[0, 3, 1, 0] = coarse[0, 3, 1, 1] = 5.0
    fine = torch.zeros(1, 25, 2, 2)
    fine[0, 7] = 3.0  # chart 7 everywhere
    u = torch.zeros(1, 25, 2, 2)
    u[0, 7] = torch.tensor([[0.1, 0.2], [0.3, 1.7]])
    v = torch.full((1, 25, 2, 2), 0.5)
    parts, uu, vv = maps_to_iuv(coarse, fine, u, v)
    assert parts.tolist() == [[[0, 7], [7, 7]]]
    # background reads chart 0; U is clamped to [0, 1]
    torch.testing.assert_close(uu[0], torch.tensor([[0.0, 0.2], [0.3, 1.0]]))
    torch.testing.assert_close(vv, torch.full((1, 2, 2), 0.5))


def test_overlay_colours_only_body_pixels() -> None:
    image = np.full((2, 2, 3), 0.2, np.float32)
    iuv = np.zeros((2, 2, 3), np.float32)
    iuv[1, 1] = [24, 1.0, 0.0]
    out = overlay(image, iuv, alpha=1.0)
    np.testing.assert_allclose(out[0, 0], [0.2, 0.2, 0.2])
    np.testing.assert_allclose(out[1, 1], [1.0, 0.0, 1.0])


def _untrained_tiny() -> DensePoseRCNN:
    torch.manual_seed(0)
    return DensePoseRCNN(model_preset("tiny")).eval()


def _scene(seed: int) -> np.ndarray:
    """A smooth (96, 128, 3) uint8 picture (gradients and a disc): little for the MP4
    codec to lose."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    img = np.stack([xx / 127, yy / 95, 0.5 + 0.3 * np.sin((xx + yy + 10 * seed) / 20)], -1)
    disc = (xx - 60 - 5 * seed) ** 2 + (yy - 48) ** 2 < 25**2
    img[disc] = [0.9, 0.4, 0.2]
    return (img * 255).round().astype(np.uint8)


def test_infer_path_png_keeps_undetected_pixels(tmp_path: Path) -> None:
    model = _untrained_tiny()
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    write_image(src, _scene(0))
    assert infer_path(model, src, dst, score_thresh=0.5) == 1
    image = read_image(src)[..., :3]
    out = (read_image(dst)[..., :3] * 255).round()
    assert out.shape == (96, 128, 3)
    iuv, dets = iuv_image(model, image, 0.5)
    body = iuv[..., 0] > 0
    # the untrained model does detect and draw something, and nothing else moved
    assert dets[0]["boxes"].shape[0] > 0 and 0 < body.sum() < body.size
    np.testing.assert_array_equal(out[~body], (image * 255).round()[~body])
    assert np.abs(out[body] - (image * 255).round()[body]).max() > 0


def test_infer_path_mp4_frame_count_and_undetected_pixels(tmp_path: Path) -> None:
    model = _untrained_tiny()
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    write_video(src, np.stack([_scene(k) for k in range(3)]), fps=5.0, quality=10.0)
    assert infer_path(model, src, dst, score_thresh=0.5) == 3
    frames_in, _ = read_video(src)
    frames_out, fps = read_video(dst)
    assert frames_out.shape == (3, 96, 128, 3) and fps == 5.0
    drawn = 0
    for f_in, f_out in zip(frames_in, frames_out, strict=True):
        iuv, _ = iuv_image(model, f_in.astype(np.float32) / 255.0, 0.5)
        body = iuv[..., 0] > 0
        drawn += int(body.sum())
        diff = np.abs(f_out.astype(np.float32) - f_in.astype(np.float32)).max(-1)
        # unchanged up to the second lossy MP4 encoding, which bleeds the overlay's colours
        # a few pixels (chroma subsampling, 16x16 blocks): compare away from the body
        far = ~_dilate(body, 8)
        assert far.sum() > 1000
        assert diff[far].mean() < 2.0 and np.percentile(diff[far], 99) < 8, diff[far].mean()
        assert diff[body].mean() > 10 * diff[far].mean()
    assert drawn > 0


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by a (2r+1)^2 square."""
    padded = np.pad(mask, r)
    out = np.zeros_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return out
