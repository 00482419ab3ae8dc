"""The face-alignment landmark backend: FAN (Bulat & Tzimiropoulos 2017) from local weights.

The ``face-alignment`` package downloads its networks on first use, which fails offline,
so this backend runs the same TorchScript network from a file the user supplies
(``2DFAN4-cd938726ad.zip`` from the package's model URLs). The face box comes from dlib's
detector; FAN's crop is the square of side 200 s around the box centre moved up by 0.12
box heights, s = (box width + box height) / 195, resized to 256 x 256 RGB in [0, 1]. The
network returns 68 heatmaps of 64 x 64 over that square; a landmark is the hottest cell,
moved a quarter cell towards its hotter neighbour on each axis.

Coordinates here are continuous with the origin at the image's top-left corner (pixel
centres at +0.5), as everywhere in the package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

INPUT_SIZE = 256
"""Side of FAN's input crop."""
HEATMAP_SIZE = 64
"""Side of FAN's heatmaps."""
REFERENCE_SCALE = 195.0
"""Box size (width + height) that FAN's crop of side 200 is normalised to."""
WEIGHTS_HINT = (
    "download 2DFAN4-cd938726ad.zip (the face-alignment package's 2D FAN, a TorchScript "
    "archive) on a machine with internet access and pass its path"
)


def fan_crop(box: np.ndarray) -> tuple[np.ndarray, float]:
    """Face box (x0, y0, x1, y1) -> the crop's top-left corner (2,) and side, in pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    centre = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1) - 0.12 * h])
    side = 200.0 * (w + h) / REFERENCE_SCALE
    return centre - 0.5 * side, side


def load_fan(path: str | Path) -> torch.jit.ScriptModule:
    """The TorchScript FAN from a local file (clear error when it is missing or not one)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FAN weights {path} not found: {WEIGHTS_HINT}")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise ValueError(f"{path}: not a TorchScript FAN archive ({err})") from err


def decode_heatmaps(heatmaps: torch.Tensor) -> np.ndarray:
    """(68, H, W) heatmaps -> (68, 2) positions (x, y) in heatmap cells (cell centres at +0.5)."""
    n, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, -1).argmax(dim=1)
    ix, iy = (flat % w).numpy(), (flat // w).numpy()
    hm = heatmaps.numpy()
    out = np.stack([ix + 0.5, iy + 0.5], axis=1).astype(np.float64)
    for k in range(n):
        x, y = ix[k], iy[k]
        if 0 < x < w - 1 and 0 < y < h - 1:
            out[k, 0] += 0.25 * np.sign(hm[k, y, x + 1] - hm[k, y, x - 1])
            out[k, 1] += 0.25 * np.sign(hm[k, y + 1, x] - hm[k, y - 1, x])
    return out


def fan_landmarks(
    image: np.ndarray, box: np.ndarray, network: torch.nn.Module | torch.jit.ScriptModule
) -> np.ndarray:
    """68 landmarks (68, 2) of the face in ``box`` with a FAN network.

    Args:
        image: (H, W, 3) uint8 RGB.
        box: (4,) face box x0, y0, x1, y1 (e.g. dlib's detection).
        network: maps (1, 3, 256, 256) RGB in [0, 1] to (1, 68, 64, 64) heatmaps (or a
            list of such stacks, the last one used).
    """
    import cv2

    corner, side = fan_crop(box)
    s = INPUT_SIZE / side
    # pixel indices (centres at integers, as cv2 uses) of image -> crop
    M = np.array([[s, 0.0, s * (0.5 - corner[0]) - 0.5], [0.0, s, s * (0.5 - corner[1]) - 0.5]])
    crop = cv2.warpAffine(
        np.ascontiguousarray(image[..., :3]),
        M,
        (INPUT_SIZE, INPUT_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        out = network(x)
    if isinstance(out, list | tuple):
        out = out[-1]
    if out.dim() != 4 or out.shape[:2] != (1, 68):
        raise ValueError(f"FAN output must be (1, 68, H, W) heatmaps, got {tuple(out.shape)}")
    cells = decode_heatmaps(out[0].float().cpu())
    return corner + cells * (side / out.shape[-1])
