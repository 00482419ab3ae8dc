"""Horizontal flip of a DensePose sample, with the body's left/right chart symmetry.

Mirroring an image turns a left arm into a right arm: the fine part I, the coarse part
masks and the chart coordinates (U, V) all change, not only the point positions. As in
DensePose, the part relabelling is a fixed permutation of the 24 charts (14 coarse parts)
and (U, V) go through per-chart lookup tables ``U_transforms[I - 1][v, u]`` and
``V_transforms[I - 1][v, u]`` (256 x 256, indexed by ``int(255 * V)``, ``int(255 * U)``),
stored in DensePose's ``UV_symmetry_transforms.mat`` (fields ``U_transforms`` and
``V_transforms``, each a 1 x 24 cell array). For DensePose-COCO use the file of the
official UV data; ``make-synthetic`` writes the exact tables of the synthetic body
(:func:`synthetic_uv_symmetry`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mobile_densepose.data.body import (
    SEGMENTS,
    capsule_coordinates,
    capsules,
    chart_to_theta,
    chart_u,
    rest_pose,
    surface_point,
)
from mobile_densepose.data.densepose_coco import ImageRecord, PersonAnnotation

CHART_SYMMETRY = np.array([0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23])  # fmt: skip
"""Fine part I (0 = background, 1..24) -> its mirror image's part (DensePose's convention)."""
COARSE_SYMMETRY = np.array([0, 1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 14])
"""Coarse part (0..14) -> its mirror image's part."""
TABLE_SIZE = 256
"""Side of each per-chart lookup table."""
MAT_FIELDS = ("U_transforms", "V_transforms")
"""Fields of ``UV_symmetry_transforms.mat``."""


@dataclass
class UVSymmetry:
    """Per-chart lookup tables of the mirrored (U, V)."""

    u: np.ndarray
    """(24, 256, 256) float: U after the flip, indexed [chart - 1, int(255 V), int(255 U)]."""
    v: np.ndarray
    """(24, 256, 256) float: V after the flip, same indexing."""

    def apply(self, parts: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mirror chart coordinates: parts (P,) int 1..24, uv (P, 2) -> (parts', uv')."""
        if parts.size and (parts.min() < 1 or parts.max() > 24):
            raise ValueError(
                f"UVSymmetry.apply: parts must be in 1..24, got {parts.min()}..{parts.max()}"
            )
        iu = np.clip((uv[:, 0] * 255).astype(np.int64), 0, 255)
        iv = np.clip((uv[:, 1] * 255).astype(np.int64), 0, 255)
        new_uv = np.stack([self.u[parts - 1, iv, iu], self.v[parts - 1, iv, iu]], axis=1)
        return CHART_SYMMETRY[parts], new_uv.astype(uv.dtype)

    def save(self, path: str | Path) -> None:
        """Write a ``UV_symmetry_transforms.mat`` in DensePose's layout."""
        from scipy.io import savemat

        cells = {}
        for name, tables in zip(MAT_FIELDS, (self.u, self.v)):
            cell = np.empty((1, 24), dtype=object)
            for i in range(24):
                cell[0, i] = tables[i]
            cells[name] = cell
        savemat(str(path), cells)

    @staticmethod
    def load(path: str | Path) -> UVSymmetry:
        """Read DensePose's ``UV_symmetry_transforms.mat``; errors name the file and field."""
        from scipy.io import loadmat

        if not Path(path).is_file():
            raise FileNotFoundError(
                f"{path}: no UV symmetry file; horizontal flip needs DensePose's "
                "UV_symmetry_transforms.mat (from the official DensePose UV data) or the one "
                "make-synthetic writes next to a synthetic set"
            )
        try:
            data = loadmat(str(path))
        except Exception as err:  # scipy raises several types for a non-.mat file
            raise ValueError(f"{path}: not a MATLAB .mat file ({err})") from err
        tables = []
        for name in MAT_FIELDS:
            if name not in data:
                raise ValueError(f"{path}: missing field {name!r} (expected {MAT_FIELDS})")
            cell = data[name]
            if cell.shape != (1, 24):
                raise ValueError(
                    f"{path}: field {name!r} must be a 1 x 24 cell array, got shape {cell.shape}"
                )
            per_chart = []
            for i in range(24):
                t = np.asarray(cell[0, i], dtype=np.float64)
                if t.shape != (TABLE_SIZE, TABLE_SIZE) or not np.all(np.isfinite(t)):
                    raise ValueError(
                        f"{path}: field {name!r}, chart {i + 1}: expected a finite "
                        f"{TABLE_SIZE} x {TABLE_SIZE} table, got shape {t.shape}"
                    )
                per_chart.append(t)
            tables.append(np.stack(per_chart))
        return UVSymmetry(tables[0], tables[1])


def synthetic_uv_symmetry() -> UVSymmetry:
    """Exact mirror tables of the synthetic body (:mod:`mobile_densepose.data.body`).

    Built as DensePose built its tables from SMPL: each table cell's surface point on the
    left/right-symmetric rest pose is mirrored (x -> -x) and read back in the chart
    coordinates of the mirror segment. V is the arc length fraction along the axis, which
    mirroring keeps; U is the angle around the axis, which mirroring reverses.
    """
    caps = capsules(rest_pose())
    by_coarse = {c.coarse: c for c in caps}
    mirror = np.diag([-1.0, 1.0, 1.0])
    g = np.arange(TABLE_SIZE) / 255.0
    grid_v, grid_u = np.meshgrid(g, g, indexing="ij")  # [v, u] as DensePose indexes
    u_tab = np.zeros((24, TABLE_SIZE, TABLE_SIZE))
    v_tab = np.zeros((24, TABLE_SIZE, TABLE_SIZE))
    for _, coarse, *_rest in SEGMENTS:
        cap, twin = by_coarse[coarse], by_coarse[int(COARSE_SYMMETRY[coarse])]
        t_len = float(np.linalg.norm(twin.b - twin.a))
        for chart in cap.charts:
            target = int(CHART_SYMMETRY[chart])
            if target not in twin.charts:
                raise AssertionError(f"chart {chart} mirrors onto segment without chart {target}")
            theta = chart_to_theta(np.full(grid_u.shape, chart), grid_u, cap.charts)
            mirrored = surface_point(cap, theta, grid_v) @ mirror.T
            t_theta, s, _ = capsule_coordinates(twin, mirrored)
            u_tab[chart - 1] = chart_u(t_theta, target, twin.charts)
            v_tab[chart - 1] = np.clip(s / t_len, 0.0, 1.0)
    return UVSymmetry(u_tab, v_tab)


def flip_person(
    person: PersonAnnotation, image_width: int, symmetry: UVSymmetry
) -> PersonAnnotation:
    """A person's annotation in the horizontally flipped image (width ``image_width``)."""
    x, y, w, h = (float(t) for t in person.bbox)
    out = replace(person, bbox=np.array([image_width - x - w, y, w, h], dtype=person.bbox.dtype))
    if person.dp_xy is not None and person.dp_I is not None and person.dp_uv is not None:
        xy = person.dp_xy.copy()
        xy[:, 0] = 256.0 - xy[:, 0]  # the 256-wide box frame mirrors with the box
        parts, uv = symmetry.apply(person.dp_I, person.dp_uv)
        out = replace(out, dp_xy=xy, dp_I=parts, dp_uv=uv)
    if person.dp_masks is not None:
        out = replace(out, dp_masks=COARSE_SYMMETRY[person.dp_masks[:, ::-1]])
    return out


def flip_record(record: ImageRecord, symmetry: UVSymmetry) -> ImageRecord:
    """An image's annotations after a horizontal flip of the image (flip the pixels too)."""
    return replace(record, people=[flip_person(p, record.width, symmetry) for p in record.people])
