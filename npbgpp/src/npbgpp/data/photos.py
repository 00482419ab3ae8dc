"""Real photographs bundled with scikit-image, read as files (never downloaded).

They serve two purposes: textures for some embedded training scenes (so the networks
see the colour statistics of real photos, not only the two-colour procedural patterns),
and the Middlebury "Motorcycle" stereo pair of :mod:`npbgpp.data.motorcycle`, which is
test data and is therefore never used as a texture.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from npbgpp.data.scene import SceneError

TEXTURE_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "color.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "brick.png",
    "grass.png",
    "gravel.png",
)
"""scikit-image's bundled photos used as textures (``skimage/data/``)."""


def skimage_data_dir() -> Path:
    """The folder of scikit-image's bundled data files (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SceneError("scikit-image is not installed: pip install scikit-image")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def skimage_file(name: str) -> Path:
    """Path of one of scikit-image's bundled data files, checked to exist."""
    path = skimage_data_dir() / name
    if not path.is_file():
        raise SceneError(f"{path}: missing from scikit-image's data; reinstall scikit-image")
    return path


def photo_texture(seed: int, size: int = 128) -> np.ndarray:
    """A random square crop (a third of the short side or more) of one of
    :data:`TEXTURE_PHOTOS`, resized to (size, size, 3) float32 in [0, 1]; the same
    ``seed`` gives the same texture."""
    rng = np.random.default_rng(seed)
    with Image.open(skimage_file(TEXTURE_PHOTOS[int(rng.integers(len(TEXTURE_PHOTOS)))])) as im:
        img = np.asarray(im.convert("RGB"))
    h, w = img.shape[:2]
    side = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(img[y : y + side, x : x + side]).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(crop, dtype=np.float32) / 255.0
