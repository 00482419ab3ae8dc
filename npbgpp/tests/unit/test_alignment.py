"""Canonical up alignment: projected up is vertical, and align/unalign round-trips."""

from __future__ import annotations

import math

import numpy as np
import torch

from npbgpp.camera import Camera, look_at_camera
from npbgpp.model.alignment import align_camera, align_image, unalign_image
from shared_utils.kernels import assert_close

UP = torch.tensor([0.0, 0.0, 1.0])


def _tilted_camera(roll_deg: float, size: int = 32, cx: float | None = None) -> Camera:
    K = np.array([[30.0, 0, cx if cx is not None else size / 2], [0, 30.0, size / 2], [0, 0, 1]])
    base = look_at_camera(
        np.array([3.0, 1.0, 1.5]), np.zeros(3), np.array([0, 0, 1.0]), K, size, size
    )
    a = math.radians(roll_deg)
    roll = torch.eye(4)
    roll[:2, :2] = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return Camera(base.K, roll @ base.cam_from_world, size, size)


def test_projected_up_is_vertical_after_alignment() -> None:
    for roll in (0.0, 30.0, -75.0, 140.0, 180.0):
        cam = _tilted_camera(roll)
        al = align_camera(cam, UP, multiple=16)
        a = al.aligned
        # A point on the optical axis and the same point moved along world up.
        on_axis = a.center + 2.0 * a.R[2]
        uv, _ = a.project(torch.stack([on_axis, on_axis + 1e-3 * UP]))
        d = uv[1] - uv[0]
        assert abs(float(d[0])) < 1e-4 * abs(float(d[1])) + 1e-6, (roll, d)
        assert float(d[1]) < 0  # up in the world is up (-y) in the image
        assert a.height % 16 == 0 and a.width % 16 == 0


def test_aligned_camera_sees_points_where_the_homography_puts_them() -> None:
    cam = _tilted_camera(50.0, cx=13.0)
    al = align_camera(cam, UP, multiple=8)
    pts = torch.randn(20, 3) * 0.3
    uv, _ = cam.project(pts)
    uv_al, _ = al.aligned.project(pts)
    h = torch.cat([uv, torch.ones(20, 1)], 1) @ al.aligned_from_original.T
    assert_close(h[:, :2] / h[:, 2:], uv_al, rtol=1e-4, atol=1e-3)


def test_quarter_turn_round_trip_is_exact() -> None:
    cam = _tilted_camera(0.0, size=16)
    # Roll so that the alignment is a 90 degree turn exactly.
    al0 = align_camera(cam, UP)
    roll = torch.eye(4)
    a = -al0.angle + math.pi / 2
    roll[:2, :2] = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    cam90 = Camera(cam.K, roll @ al0.aligned.cam_from_world, 16, 16)
    al = align_camera(cam90, UP)
    assert abs(abs(al.angle) % math.pi - math.pi / 2) < 1e-5
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    aligned, valid = align_image(image, al)
    assert aligned.shape == (1, 3, 16, 16)
    assert_close(valid, torch.ones_like(valid), atol=1e-5)
    # A quarter turn permutes the pixels.
    assert_close(
        torch.sort(aligned.flatten()).values, torch.sort(image.flatten()).values, atol=1e-5
    )
    assert_close(unalign_image(aligned, al), image, atol=1e-5)


def test_round_trip_identity_on_smooth_image() -> None:
    cam = _tilted_camera(37.0, size=32)
    al = align_camera(cam, UP, multiple=16)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    image = torch.stack([torch.sin(xs / 6), torch.cos(ys / 5), torch.sin((xs + ys) / 9)])[None]
    aligned, valid = align_image(image, al)
    assert aligned.shape[-2] >= 32 and aligned.shape[-1] >= 32
    back = unalign_image(aligned, al)
    interior = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert_close(back[interior], image[interior], atol=2e-2)
    assert 0.4 < float(valid.mean()) < 1.0  # the grown canvas has empty corners
