"""``npbgpp prepare``: structure from motion on a folder of photos -> COLMAP scene layout.

Runs pycolmap's pipeline (SIFT features, exhaustive matching, incremental mapping with
a shared PINHOLE camera) and writes ``out/images/`` (copies of the photos),
``out/database.db`` and ``out/sparse/0/`` (the largest reconstruction), which
:func:`npbgpp.data.loaders.load_scene` reads with ``fmt="colmap"``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from npbgpp.data.scene import SceneError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def prepare_scene(photos: str | Path, out: str | Path, *, single_camera: bool = True) -> Path:
    """Reconstruct cameras and sparse points from the photos; returns ``out/sparse/0``."""
    import pycolmap

    src, dst = Path(photos), Path(out)
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
    camera_mode = pycolmap.CameraMode.SINGLE if single_camera else pycolmap.CameraMode.AUTO
    pycolmap.extract_features(database, images, camera_mode=camera_mode, reader_options=reader)
    pycolmap.match_exhaustive(database)
    work = dst / "sparse_all"
    work.mkdir(exist_ok=True)
    maps = pycolmap.incremental_mapping(database, images, work)
    if not maps:
        raise SceneError(f"{src}: structure from motion registered no images")
    best = max(maps.values(), key=lambda r: r.num_reg_images())
    model = dst / "sparse" / "0"
    model.mkdir(parents=True, exist_ok=True)
    best.write(model)
    shutil.rmtree(work, ignore_errors=True)
    return model
