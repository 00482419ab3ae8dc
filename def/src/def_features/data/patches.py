"""Range-scan patches with distance-to-feature targets (DEF-Sim construction).

Per patch: pick a surface point and a direction from which it is seen, cast a
``patch_size``-square orthographic view centred on it, add noise along the view
direction, and label every surface pixel with the truncated distance from its (clean)
surface point to the nearest sharp-curve segment and the unit direction towards it.
Degenerate patches are rejected: too few surface pixels, or a depth jump between
neighbouring surface pixels larger than ``max_depth_jump`` pixel sizes (occlusion
boundaries whose far side the network cannot relate to the near side).

Conventions of the stored arrays (the official field layout): background pixels have
``image == 0``, ``distances == truncation`` and zero ``directions``/``normals``;
``camera_pose`` is the view's ``world_from_cam``; ``has_sharp`` says that a sharp curve
passes within one pixel size of a surface point of the patch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from def_features.config import DataConfig
from def_features.data.scan import (
    OrthoView,
    RangeScan,
    add_view_noise,
    make_scene,
    scan,
    view_looking_at,
)
from def_features.kernels.point_segment_distance import point_segment_distance


@dataclass(frozen=True)
class ShapeItem:
    """A normalised shape with its sharp-curve segments."""

    item_id: str
    """Name of the shape."""
    vertices: np.ndarray
    """(V, 3) normalised vertices."""
    faces: np.ndarray
    """(F, 3) triangles."""
    seg_a: np.ndarray
    """(M, 3) sharp segment starts (normalised frame)."""
    seg_b: np.ndarray
    """(M, 3) sharp segment ends."""
    mesh_scale: float
    """Scale applied by the normalisation."""


def distance_targets(
    points: np.ndarray, mask: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray, truncation: float
) -> tuple[np.ndarray, np.ndarray]:
    """Truncated distance (H, W) and direction (H, W, 3) of the surface pixels.

    Background pixels get ``truncation`` and a zero direction; with no segments every
    pixel is at ``truncation``.
    """
    h, w = mask.shape
    dist = np.full((h, w), truncation, np.float32)
    direc = np.zeros((h, w, 3), np.float32)
    if len(seg_a) == 0 or not mask.any():
        return dist, direc
    pts = points[mask].astype(np.float64)
    # Only segments whose bounding box comes within ``truncation`` of the patch matter.
    lo, hi = pts.min(0) - truncation, pts.max(0) + truncation
    seg_lo, seg_hi = np.minimum(seg_a, seg_b), np.maximum(seg_a, seg_b)
    near = np.all((seg_hi >= lo) & (seg_lo <= hi), axis=1)
    if not near.any():
        return dist, direc
    d, _, dirs = point_segment_distance(
        torch.from_numpy(pts),
        torch.from_numpy(seg_a[near]),
        torch.from_numpy(seg_b[near]),
        truncation,
    )
    dist[mask] = d.numpy()
    direc[mask] = dirs.numpy()
    return dist, direc


def reject_reason(sc: RangeScan, cfg: DataConfig) -> str | None:
    """Why a patch is degenerate, or None when it is kept."""
    m = sc.mask
    if m.mean() < cfg.min_surface_fraction:
        return f"surface fraction {m.mean():.2f} < {cfg.min_surface_fraction}"
    d = np.where(m, sc.depth, np.nan)
    jumps = [np.abs(np.diff(d, axis=0)), np.abs(np.diff(d, axis=1))]
    worst = max(float(np.nanmax(j)) if np.isfinite(j).any() else 0.0 for j in jumps)
    if worst > cfg.max_depth_jump * cfg.pixel_size:
        return f"depth jump {worst:.3f} > {cfg.max_depth_jump} pixel sizes"
    return None


def _random_view(
    item: ShapeItem, rng: np.random.Generator, cfg: DataConfig, face_areas: np.ndarray
) -> OrthoView:
    tri = int(rng.choice(len(item.faces), p=face_areas / face_areas.sum()))
    corners = item.vertices[item.faces[tri]]
    r1, r2 = rng.random(2)
    s = np.sqrt(r1)
    target = (1 - s) * corners[0] + s * (1 - r2) * corners[1] + s * r2 * corners[2]
    normal = np.cross(corners[1] - corners[0], corners[2] - corners[0])
    normal /= np.linalg.norm(normal)
    # A direction within ~70 degrees of the inward normal: the point is seen from outside.
    v = rng.normal(size=3)
    v -= normal * float(v @ normal)
    v /= np.linalg.norm(v) + 1e-12
    tilt = np.deg2rad(rng.uniform(0, 70))
    direction = -(np.cos(tilt) * normal + np.sin(tilt) * v)
    standoff = float(np.linalg.norm(item.vertices.max(0) - item.vertices.min(0))) + 1.0
    return view_looking_at(
        target, direction, standoff, cfg.pixel_size, cfg.patch_size, rng.uniform(0, 2 * np.pi)
    )


def make_patches(
    item: ShapeItem,
    cfg: DataConfig,
    n_patches: int,
    rng: np.random.Generator,
    noise_levels: list[float] | None = None,
    pixel_sizes: list[float] | None = None,
) -> list[dict[str, np.ndarray | float | bool | str]]:
    """Up to ``n_patches`` accepted patches of one shape (``views_per_shape`` tries at most).

    Each patch is a dict of the official fields (single item, no batch axis). Patch k
    gets noise ``noise_levels[k % len]`` (default: ``cfg.noise_std``) and pixel size
    (``resolution_3d``) ``pixel_sizes[k % len]`` (default: ``cfg.pixel_size``); a
    rejected view is retried at the same pixel size.
    """
    levels = noise_levels or [cfg.noise_std]
    sizes = [float(p) for p in (pixel_sizes or [cfg.pixel_size])]
    if any(not np.isfinite(p) or p <= 0 for p in sizes):
        raise ValueError(f"make_patches: pixel sizes must be positive, got {sizes}")
    cfgs = [dataclasses.replace(cfg, pixel_size=p) for p in sizes]
    scene = make_scene(item.vertices, item.faces)
    tri = item.vertices[item.faces]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    out: list[dict[str, np.ndarray | float | bool | str]] = []
    for _ in range(cfg.views_per_shape):
        if len(out) >= n_patches:
            break
        pcfg = cfgs[len(out) % len(cfgs)]
        view = _random_view(item, rng, pcfg, areas)
        sc = scan(scene, view)
        if reject_reason(sc, pcfg) is not None:
            continue
        noise = float(levels[len(out) % len(levels)])
        depth, _ = add_view_noise(view, sc, noise, rng)
        dist, direc = distance_targets(sc.points, sc.mask, item.seg_a, item.seg_b, cfg.truncation)
        out.append(
            {
                "image": np.where(sc.mask, depth, 0.0).astype(np.float32),
                "distances": dist,
                "directions": direc,
                "normals": sc.normals.astype(np.float32),
                "item_id": item.item_id,
                "camera_pose": np.linalg.inv(view.cam_from_world).astype(np.float32),
                "mesh_scale": float(item.mesh_scale),
                "has_sharp": bool((dist[sc.mask] < pcfg.pixel_size).any()),
                "noise_std": noise,
                "resolution_3d": float(pcfg.pixel_size),
            }
        )
    return out
