"""The descriptor file written by ``npbgpp model``: an HDF5 file of the modeled scene.

Fields: ``points`` (P, 3), ``beta0`` (P, c), ``beta`` (P, m, c), ``source_index`` (P,)
(index in the input point cloud). A viewer-friendly export writes the points as a
coloured PLY, the colour being the first three channels of beta0 min-max normalised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from npbgpp.model.pipeline import SceneDescriptors
from shared_utils.io.hdf5 import read_hdf5, write_hdf5
from shared_utils.io.meshes import write_point_cloud

FIELDS = ("points", "beta0", "beta", "source_index")


def save_descriptors(path: str | Path, desc: SceneDescriptors) -> None:
    """Write the modeled scene (atomic)."""
    arrays = {k: getattr(desc, k).detach().cpu().numpy() for k in FIELDS}
    write_hdf5(path, arrays, attrs={"format": "npbgpp-descriptors-v1"})


def load_descriptors(path: str | Path, device: str | torch.device = "cpu") -> SceneDescriptors:
    """Read a descriptor file; a missing or inconsistent field raises naming file and field."""
    data = read_hdf5(path, list(FIELDS))
    p = int(data["points"].shape[0])
    for name in FIELDS:
        if data[name].shape[0] != p:
            raise ValueError(f"{path}: {name}: {data[name].shape[0]} rows, expected {p}")
    if data["beta"].ndim != 3 or data["beta"].shape[2] != data["beta0"].shape[1]:
        raise ValueError(f"{path}: beta: shape {data['beta'].shape} does not match beta0")
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in data.items()}
    return SceneDescriptors(
        t["points"].float(), t["beta0"].float(), t["beta"].float(), t["source_index"].long()
    )


def export_ply(path: str | Path, desc: SceneDescriptors) -> None:
    """Coloured PLY of the points (colour: beta0 channels 0-2, min-max normalised)."""
    rgb = desc.beta0[:, :3].detach().cpu().numpy().astype(np.float64)
    lo, hi = rgb.min(0), rgb.max(0)
    colors = (rgb - lo) / np.maximum(hi - lo, 1e-12)
    write_point_cloud(path, desc.points.detach().cpu().numpy().astype(np.float64), colors)
