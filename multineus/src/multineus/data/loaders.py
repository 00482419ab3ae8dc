"""Loading real scenes: IDR/NeuS folders and COLMAP models (through shared_utils readers),
and single in-the-wild photos (face crop, averaged intrinsics, PnP from landmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from multineus.data.scenes import SceneViews
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import ViewSet
from shared_utils.io.images import read_image, read_mask


def _resize(img: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    pil = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    out = pil.resize(size, Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR)
    return np.asarray(out).astype(np.float32) / 255.0


def scene_from_viewset(
    vs: ViewSet, *, scale: float = 1.0, views: list[int] | None = None
) -> SceneViews:
    """Images, masks and cameras of a ViewSet (IDR, COLMAP...), optionally downscaled.

    Views without a mask get an all-foreground mask.

    Raises:
        ValueError: naming the file whose size does not match its camera.
    """
    idx = list(range(len(vs.cameras))) if views is None else views
    images, masks, cams = [], [], []
    for i in idx:
        cam = vs.cameras[i]
        img = read_image(vs.image_paths[i])[..., :3]
        if img.shape[:2] != (cam.height, cam.width):
            raise ValueError(
                f"{vs.image_paths[i]}: image is {img.shape[1]}x{img.shape[0]} but its camera is "
                f"{cam.width}x{cam.height}"
            )
        if vs.mask_paths is not None:
            mask = read_mask(vs.mask_paths[i], img.shape[:2])
        else:
            mask = np.ones(img.shape[:2], dtype=np.float32)
        if scale != 1.0:
            cam = cam.scaled(scale)
            img = _resize(img, (cam.width, cam.height))
            mask = _resize(np.repeat(mask[..., None], 3, 2), (cam.width, cam.height), nearest=True)[
                ..., 0
            ]
        images.append(img)
        masks.append(mask > 0.5)
        cams.append(cam)
    return SceneViews.from_arrays(np.stack(images), np.stack(masks), cams)


def photo_scene(
    image: np.ndarray,
    *,
    K: np.ndarray,
    image_size: int,
    landmarks_3d: np.ndarray,
    mask: np.ndarray | None = None,
    segmenter: str = "grabcut",
    fan_weights: str | Path | None = None,
    margin: float = 0.5,
    name: str = "photo",
) -> tuple[SceneViews, np.ndarray]:
    """One in-the-wild photo as a scene: crop around the face, resize, PnP the camera.

    Args:
        image: (H, W, 3) float in [0, 1].
        K: (3, 3) intrinsics for an ``image_size`` square crop (average of the training cameras).
        image_size: side of the crop after resizing.
        landmarks_3d: (68, 3) canonical landmarks.
        mask: (H, W) foreground mask, or None (then ``segmenter`` makes one).
        fan_weights: landmarks by a local FAN file (face-alignment backend) instead of
            dlib's predictor.
        segmenter: without a mask: ``grabcut`` (GrabCut seeded by the landmarks, run on the
            crop at the photo's resolution) or ``none`` (everything is foreground).
        margin: crop margin around the detected face box, relative to its size.
        name: for error messages.

    Returns:
        the scene (1 view) and the (68, 2) landmarks in the crop.

    Raises:
        NoFaceError: no face in the photo; ValueError: a mask of the wrong size.
    """
    from multineus.wild.landmarks import detect_landmarks
    from multineus.wild.pnp import estimate_pose

    if mask is not None and mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"{name}: mask size {mask.shape[:2]} != photo size {image.shape[:2]}")
    if segmenter not in ("grabcut", "none"):
        raise ValueError(f"photo_scene: unknown segmenter {segmenter!r} (grabcut | none)")
    lm, box = detect_landmarks(image, name=name, fan_weights=fan_weights)
    cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
    side = max(box[2] - box[0], box[3] - box[1]) * (1.0 + 2.0 * margin)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    box_px = (x0, y0, x0 + round(side), y0 + round(side))
    pil = Image.fromarray((np.clip(image[..., :3], 0, 1) * 255 + 0.5).astype(np.uint8))
    crop = pil.crop(box_px)
    f = image_size / round(side)
    img = (
        np.asarray(crop.resize((image_size, image_size), Image.Resampling.BILINEAR)).astype(
            np.float32
        )
        / 255.0
    )
    lm_px = lm - np.array([x0, y0], dtype=np.float64)  # landmarks in crop pixels
    mp: Image.Image | None = None
    if mask is not None:
        mp = Image.fromarray((mask > 0.5).astype(np.uint8) * 255).crop(box_px)
    elif segmenter == "grabcut":
        from multineus.wild.segment import grabcut_head_mask

        crop_mask = grabcut_head_mask(np.asarray(crop), lm_px)
        mp = Image.fromarray(crop_mask.astype(np.uint8) * 255)
    if mp is None:
        m = np.ones((image_size, image_size), dtype=bool)
    else:
        m = np.asarray(mp.resize((image_size, image_size), Image.Resampling.NEAREST)) > 127
    lm_crop = lm_px * f
    T = estimate_pose(lm_crop, K, landmarks_3d)
    cam = PinholeCamera(np.asarray(K, dtype=np.float64), T, image_size, image_size)
    return SceneViews.from_arrays(img[None], m[None], [cam]), lm_crop


def read_scene_folder(root: str | Path, *, scale: float = 1.0) -> SceneViews:
    """An IDR/NeuS folder (cameras_sphere.npz) or a COLMAP folder (sparse/0 + images)."""
    root = Path(root)
    if (root / "cameras_sphere.npz").is_file():
        from shared_utils.cameras.idr import read_idr

        return scene_from_viewset(read_idr(root), scale=scale)
    for model in (root / "sparse" / "0", root / "sparse"):
        if (model / "cameras.bin").is_file() or (model / "cameras.txt").is_file():
            from shared_utils.cameras.colmap import read_colmap

            return scene_from_viewset(read_colmap(model, root / "images"), scale=scale)
    raise ValueError(
        f"{root}: neither an IDR/NeuS scene (cameras_sphere.npz) nor a COLMAP scene (sparse/0/cameras.*)"
    )
