"""End to end through the shared parts: render -> unproject -> geometry -> video -> report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shared_utils.cameras.rays import camera_rays
from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras
from shared_utils.geometry.chamfer import one_way_chamfer
from shared_utils.geometry.sampling import sample_surface
from shared_utils.io.video import read_video, write_video
from shared_utils.metrics.image import psnr
from shared_utils.render.procedural import random_textured_object
from shared_utils.render.raycast import RaycastScene
from shared_utils.render.renderer import render
from shared_utils.report import ReportSection, load_section, write_index


def test_render_unproject_video_report(tmp_path: Path) -> None:
    mesh = random_textured_object(seed=3, texture_size=64)
    scene = RaycastScene([mesh])
    K = intrinsics_from_fov(40.0, 96, 96)
    cameras = orbit_cameras(8, radius=3.5, elevation_deg=20.0, K=K, width=96, height=96)
    outputs = [render(scene, cam) for cam in cameras]

    # Depth maps unprojected along the shared rays land on the mesh surface.
    surface, _, _ = sample_surface(mesh.vertices, mesh.faces, 20000, seed=0)
    for cam, out in zip(cameras[:3], outputs[:3]):
        origins, dirs = (
            x.numpy().astype(np.float64) for x in camera_rays(cam, dtype=torch.float64)
        )
        z_per_unit = dirs @ cam.R[2]  # camera-frame z gained per unit of ray length
        t = out.depth / z_per_unit
        points = (origins + t[..., None] * dirs)[out.mask]
        assert len(points) > 500
        assert one_way_chamfer(points, surface) < 0.03

    # The views wrap around the object: each sees it, and they differ.
    coverage = [float(o.mask.mean()) for o in outputs]
    assert min(coverage) > 0.05
    assert not np.allclose(outputs[0].rgb, outputs[4].rgb)

    frames = np.stack([o.rgb for o in outputs])
    video = tmp_path / "orbit.mp4"
    write_video(video, frames, fps=8)
    back, fps = read_video(video)
    assert back.shape == (8, 96, 96, 3) and fps == 8
    quality = psnr(
        torch.from_numpy(back.astype(np.float32) / 255).permute(0, 3, 1, 2),
        torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2),
    )
    assert float(quality.min()) > 28.0

    section = ReportSection(tmp_path / "shared", "Shared renderer", "shared-utils")
    section.text("An orbit around a procedural object.")
    section.image(outputs[0].rgb, "first view")
    section.video(video, "orbit")
    section.metrics({"min PSNR after mp4 (dB)": round(float(quality.min()), 2)})
    section.save()
    reloaded = load_section(tmp_path / "shared")
    assert [item["kind"] for item in reloaded.items] == ["text", "image", "video", "metrics"]
    index = write_index(tmp_path, {"shared-utils": tmp_path / "shared"}, title="smoke")
    html = Path(index).read_text()
    assert "Shared renderer" in html and "orbit.mp4" in html
