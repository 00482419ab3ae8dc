"""The container every camera reader returns, and the reader's error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared_utils.cameras.pinhole import PinholeCamera


class CameraFormatError(ValueError):
    """A camera file is missing, malformed or inconsistent.

    The message always names the offending file and the field inside it.
    """

    def __init__(self, file: str | Path, field: str, message: str) -> None:
        self.file = Path(file)
        """The file (or folder) that is wrong."""
        self.field = field
        """The key / entry / column inside that file."""
        self.message = message
        """What is wrong with it."""
        super().__init__(f"{self.file}: field '{field}': {message}")


@dataclass
class ViewSet:
    """Calibrated views of one scene, in the workspace conventions (OpenCV, see ``pinhole``)."""

    cameras: list[PinholeCamera]
    """One camera per view."""
    image_paths: list[Path]
    """Image file of each view (same order as ``cameras``)."""
    mask_paths: list[Path] | None
    """Foreground mask file of each view, or None when the format has none."""
    points: np.ndarray | None
    """(N, 3) float64 scene points in the cameras' world frame, or None."""
    point_colors: np.ndarray | None
    """(N, 3) float64 point colours in [0, 1], or None."""
    scale_mat: np.ndarray | None
    """(4, 4) float64 map from the normalised (unit-sphere) frame to the original world
    frame, or None when the format has no normalisation (IDR / NeuS only)."""
    names: list[str]
    """A short name for each view (image stem or frame id)."""

    def __post_init__(self) -> None:
        n = len(self.cameras)
        if len(self.image_paths) != n or len(self.names) != n:
            raise ValueError(
                f"ViewSet: {n} cameras but {len(self.image_paths)} images and {len(self.names)} names"
            )
        if self.mask_paths is not None and len(self.mask_paths) != n:
            raise ValueError(f"ViewSet: {n} cameras but {len(self.mask_paths)} masks")
        if self.points is not None:
            pts = np.asarray(self.points, dtype=np.float64)
            if pts.ndim != 2 or pts.shape[1] != 3:
                raise ValueError(f"ViewSet.points must be (N, 3), got {pts.shape}")
            self.points = pts
        if self.point_colors is not None:
            cols = np.asarray(self.point_colors, dtype=np.float64)
            if self.points is None or cols.shape != self.points.shape:
                raise ValueError("ViewSet.point_colors must match points, shape (N, 3)")
            self.point_colors = cols
        if self.scale_mat is not None:
            sm = np.asarray(self.scale_mat, dtype=np.float64)
            if sm.shape != (4, 4):
                raise ValueError(f"ViewSet.scale_mat must be (4, 4), got {sm.shape}")
            self.scale_mat = sm

    def __len__(self) -> int:
        return len(self.cameras)
