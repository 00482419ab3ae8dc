"""IUV decoding of predictor maps and the overlay colours."""

import numpy as np
import torch

from mobile_densepose.eval.densepose_ap import maps_to_iuv
from mobile_densepose.infer import overlay


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
