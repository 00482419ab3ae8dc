"""Real photos for the demo: scikit-image's copy of the Middlebury 2014 "Motorcycle" pair.

scikit-image (a workspace dependency) ships the left and right rectified photos and the
left ground-truth disparity, down-sampled 4x from the benchmark's full resolution
(``skimage/data/motorcycle_{left,right}.png``, ``motorcycle_disp.npz``), and prints the
matching calibration in ``skimage.data.stereo_motorcycle``'s docstring. The files are
read directly (found with ``importlib.util.find_spec``) and written out in the Middlebury
2014 layout, so the demo goes through the same reader as the full benchmark scenes.

The scene is D. Scharstein et al., "High-resolution stereo datasets with subpixel-accurate
ground truth", GCPR 2014 (vision.middlebury.edu/stereo/data/scenes2014).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from npbgpp.data.photos import skimage_file
from shared_utils.cameras.middlebury import write_middlebury

CALIBRATION = {
    "focal": 994.978,
    "cx0": 311.193,
    "cy": 254.877,
    "doffs": 31.086,
    "baseline": 193.001,
}
"""The down-sampled pair's calibration as scikit-image states it (pixels; baseline in mm)."""


def write_motorcycle(out: str | Path) -> Path:
    """Write the Motorcycle pair as a Middlebury 2014 scene folder ``out``; returns it."""
    images = []
    for name in ("motorcycle_left.png", "motorcycle_right.png"):
        with Image.open(skimage_file(name)) as im:
            images.append(np.asarray(im.convert("RGB")))
    with np.load(skimage_file("motorcycle_disp.npz")) as z:
        disparity = z[z.files[0]].astype(np.float32)
    return write_middlebury(out, images[0], images[1], disparity, **CALIBRATION)
