"""Synthetic DensePose data: posed capsule bodies rendered onto real photos.

Each image is a random crop of a photo bundled with scikit-image (coffee, chelsea,
rocket, ...; never the astronaut, which holds a real person and is kept for inference)
with one or two synthetic people (random pose, yaw, size, clothing colours, Lambert
shading). Because the bodies are analytic capsules, every person pixel has an exact
fine part I, U and V and coarse part. Per person we store, as DensePose-COCO does, the
tight box of its visible pixels, ``n_points`` annotated points sampled on its visible
pixels (dp_x, dp_y in the 256x256 box frame) and the 14 coarse part masks (RLE, 256x256
box frame). The folder also gets ``body_surface.npz``: the body's chart vertices and
geodesic distances for the DensePose evaluation, and ``UV_symmetry_transforms.mat``:
its exact left/right mirror tables in DensePose's format, for flip augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from scipy.ndimage import zoom

from mobile_densepose.data.body import (
    MATERIALS,
    Pose,
    capsules,
    raster_capsules,
    synthetic_body_surface,
)
from mobile_densepose.data.densepose_coco import ImageRecord, PersonAnnotation, write_densepose_coco
from mobile_densepose.data.flip import synthetic_uv_symmetry
from shared_utils.io.images import write_image

BACKGROUNDS = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel", "colorwheel", "coins", "clock", "camera")  # fmt: skip
"""scikit-image photos used as backgrounds."""


@dataclass
class SyntheticConfig:
    """Size and variety of a synthetic DensePose set."""

    num_images: int = 64
    """Images to render."""
    height: int = 128
    """Image height."""
    width: int = 160
    """Image width."""
    max_people: int = 2
    """People per image (1..max_people)."""
    n_points: int = 150
    """Annotated points per person (fewer if the person has fewer visible pixels)."""
    min_height_frac: float = 0.55
    """Smallest person height as a fraction of the image height."""
    max_height_frac: float = 0.95
    """Largest person height as a fraction of the image height."""
    seed: int = 0
    """Random seed."""


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    name = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.max() > 1.5:
        img = img / 255.0
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    crop = rng.uniform(0.4, 1.0)
    ch = int(min(img.shape[0], img.shape[1] * height / width) * crop)
    cw = int(ch * width / height)
    y0 = rng.integers(0, img.shape[0] - ch + 1)
    x0 = rng.integers(0, img.shape[1] - cw + 1)
    patch = img[y0 : y0 + ch, x0 : x0 + cw]
    out = zoom(patch, (height / patch.shape[0], width / patch.shape[1], 1), order=1)
    return np.clip(out[:height, :width], 0, 1)


def random_pose(rng: np.random.Generator) -> Pose:
    """A random plausible standing/walking pose."""

    def pair(lo: float, hi: float) -> tuple[float, float]:
        return float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))

    return Pose(
        yaw=float(rng.uniform(-0.9, 0.9) + (np.pi if rng.random() < 0.25 else 0.0)),
        shoulder=pair(0.1, 1.4),
        elbow=pair(0.0, 1.5),
        arm_swing=pair(-0.6, 0.6),
        hip=pair(0.0, 0.35),
        leg_swing=pair(-0.4, 0.4),
        knee=pair(0.0, 0.8),
        lean=float(rng.uniform(-0.15, 0.15)),
    )


def render_image(
    cfg: SyntheticConfig, rng: np.random.Generator, image_id: int, first_ann_id: int
) -> tuple[np.ndarray, ImageRecord, np.ndarray]:
    """One image: (H, W, 3) float RGB, its ImageRecord and the (4, H, W) exact [I, U, V, instance] maps."""
    h, w = cfg.height, cfg.width
    n_people = int(rng.integers(1, cfg.max_people + 1))
    bodies, offsets, scales = [], [], []
    for _ in range(n_people):
        bodies.append(capsules(random_pose(rng)))
        height_px = rng.uniform(cfg.min_height_frac, cfg.max_height_frac) * h
        scales.append(height_px / 1.75)
        offsets.append(
            np.array(
                [
                    rng.uniform(0.2, 0.8) * w,
                    rng.uniform(0.45, 0.6) * h + 0.05 * height_px,
                    rng.uniform(0, 2),
                ]
            )
        )
    raster = raster_capsules(bodies, h, w, scales, offsets)
    img = _background(rng, h, w)
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(0.2, 0.8), -1.0])
    light /= np.linalg.norm(light)
    # normals point outwards; light arrives from the camera side (-z), so use -n . (-l)
    shade = 0.35 + 0.65 * np.clip(raster.normal @ (-light), 0, 1)
    for person in range(n_people):
        palette = rng.uniform(0.1, 0.9, size=(len(MATERIALS), 3))
        palette[MATERIALS.index("skin")] = np.array([0.85, 0.62, 0.5]) * rng.uniform(0.55, 1.1)
        sel = raster.instance == person
        base = palette[raster.colour[sel]]
        img[sel] = np.clip(base * shade[sel, None] + rng.normal(0, 0.02, base.shape), 0, 1)
    record = ImageRecord(image_id, f"{image_id:06d}.png", w, h)
    for person in range(n_people):
        ann = _annotate(raster, person, first_ann_id + person, cfg.n_points, rng)
        if ann is not None:
            record.people.append(ann)
    maps = np.stack([raster.parts, raster.u, raster.v, raster.instance]).astype(np.float32)
    return img.astype(np.float32), record, maps


def _annotate(
    raster: object, person: int, ann_id: int, n_points: int, rng: np.random.Generator
) -> PersonAnnotation | None:
    from mobile_densepose.data.body import Raster

    assert isinstance(raster, Raster)
    ys, xs = np.nonzero(raster.instance == person)
    if ys.size < 20:
        return None
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    bw, bh = float(x1 - x0), float(y1 - y0)
    pick = rng.choice(ys.size, size=min(n_points, ys.size), replace=False)
    py, px = ys[pick], xs[pick]
    dp_xy = np.stack([(px + 0.5 - x0) / bw * 256.0, (py + 0.5 - y0) / bh * 256.0], axis=1)
    # coarse masks: 256x256 box frame, nearest lookup of pixel centres
    g = (np.arange(256) + 0.5) / 256.0
    iy = np.clip((y0 + g * bh).astype(np.int64), 0, raster.instance.shape[0] - 1)
    ix = np.clip((x0 + g * bw).astype(np.int64), 0, raster.instance.shape[1] - 1)
    own = raster.instance[np.ix_(iy, ix)] == person
    masks = np.where(own, raster.coarse[np.ix_(iy, ix)], 0)
    return PersonAnnotation(
        id=ann_id,
        bbox=np.array([x0, y0, bw, bh], np.float64),
        dp_xy=dp_xy,
        dp_I=raster.parts[py, px].astype(np.int64),
        dp_uv=np.stack([raster.u[py, px], raster.v[py, px]], axis=1),
        dp_masks=masks.astype(np.int64),
    )


def make_synthetic(out_dir: str | Path, cfg: SyntheticConfig) -> list[ImageRecord]:
    """Render a synthetic set into out_dir: images/, annotations.json, body_surface.npz and
    UV_symmetry_transforms.mat (the body's mirror tables, for flip augmentation)."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    records = []
    ann_id = 1
    for i in range(cfg.num_images):
        img, record, _ = render_image(cfg, rng, i + 1, ann_id)
        ann_id += cfg.max_people
        write_image(out / "images" / record.file_name, img)
        records.append(record)
    write_densepose_coco(out / "annotations.json", records)
    synthetic_body_surface().save(str(out / "body_surface.npz"))
    synthetic_uv_symmetry().save(out / "UV_symmetry_transforms.mat")
    return records
