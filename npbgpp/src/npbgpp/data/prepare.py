"""``npbgpp prepare``: structure from motion on a folder of photos -> COLMAP scene layout.

Runs pycolmap's pipeline (SIFT features, exhaustive matching, incremental mapping with
a shared PINHOLE camera) and writes ``out/images/`` (copies of the photos),
``out/database.db`` and ``out/sparse/0/`` (the largest reconstruction), which
:func:`npbgpp.data.loaders.load_scene` reads with ``fmt="colmap"``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from npbgpp.data.scene import SceneError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def prepare_scene(
    photos: str | Path,
    out: str | Path,
    *,
    single_camera: bool = True,
    intrinsics: tuple[float, float, float, float] | None = None,
    seed: int = 0,
    num_threads: int = -1,
) -> Path:
    """Reconstruct cameras and sparse points from the photos; returns ``out/sparse/0``.

    Args:
        photos: folder of images (png / jpg).
        out: output scene folder.
        single_camera: one camera shared by every photo (same lens and size).
        intrinsics: known ``(fx, fy, cx, cy)`` in pixels, kept fixed during bundle
            adjustment; None: start from COLMAP's default focal guess and refine it.
            Without EXIF data the guess can be far off and scenes dominated by a plane
            then reconstruct badly, so pass the calibration when you know it.
        seed: COLMAP's random seed (RANSAC, initial pair), for reproducible runs.
        num_threads: threads for extraction, matching and mapping (-1: all cores).
    """
    import pycolmap

    src, dst = Path(photos), Path(out)
    if intrinsics is not None and (
        len(intrinsics) != 4 or not all(np.isfinite(float(v)) and float(v) > 0 for v in intrinsics)
    ):
        raise SceneError(
            f"{src}: intrinsics must be four positive numbers fx, fy, cx, cy, got {intrinsics}"
        )
    files = (
        sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if src.is_dir()
        else []
    )
    if len(files) < 3:
        raise SceneError(
            f"{src}: photos: need at least 3 images ({IMAGE_SUFFIXES}), found {len(files)}"
        )
    images = dst / "images"
    images.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, images / f.name)
    database = dst / "database.db"
    if database.exists():
        database.unlink()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "PINHOLE"
    if intrinsics is not None:
        reader.camera_params = ",".join(f"{float(v):.10g}" for v in intrinsics)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = num_threads
    camera_mode = pycolmap.CameraMode.SINGLE if single_camera else pycolmap.CameraMode.AUTO
    pycolmap.extract_features(
        database,
        images,
        camera_mode=camera_mode,
        reader_options=reader,
        extraction_options=extraction,
    )
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = num_threads
    pycolmap.match_exhaustive(database, matching_options=matching)
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.random_seed = seed
    mapping.num_threads = num_threads
    if intrinsics is not None:
        mapping.ba_refine_focal_length = False
        mapping.ba_refine_principal_point = False
    work = dst / "sparse_all"
    work.mkdir(exist_ok=True)
    maps = pycolmap.incremental_mapping(database, images, work, options=mapping)
    if not maps:
        raise SceneError(f"{src}: structure from motion registered no images")
    best = max(maps.values(), key=lambda r: r.num_reg_images())
    model = dst / "sparse" / "0"
    model.mkdir(parents=True, exist_ok=True)
    best.write(model)
    shutil.rmtree(work, ignore_errors=True)
    return model
