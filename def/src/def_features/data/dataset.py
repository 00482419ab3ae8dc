"""Building patch datasets (with progress) and serving them to PyTorch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from def_features.config import DataConfig
from def_features.data.hdf5_patches import stack_patches
from def_features.data.patches import ShapeItem, make_patches


def build_patches(
    items: Sequence[ShapeItem],
    cfg: DataConfig,
    patches_per_shape: int,
    seed: int,
    noise_levels: Sequence[float] | None = None,
    progress: bool = True,
    pixel_sizes: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Patches of every shape, stacked in the HDF5 layout.

    ``noise_levels`` (default: ``cfg.noise_std`` only) and ``pixel_sizes`` (default:
    ``cfg.pixel_size`` only) are cycled over each shape's patches, so a dataset mixes
    them evenly.
    """
    rng = np.random.default_rng(seed)
    patches: list[dict] = []
    bar = tqdm(items, desc="make-dataset", unit="shape", disable=not progress)
    for item in bar:
        patches.extend(
            make_patches(
                item,
                cfg,
                patches_per_shape,
                rng,
                list(noise_levels or []),
                list(pixel_sizes or []),
            )
        )
        bar.set_postfix(patches=len(patches))
    return stack_patches(patches)


class PatchDataset(Dataset):
    """Stacked patch arrays as network samples.

    Item: ``{"input": (1, S, S) normalised depth, "distance": (S, S), "mask": (S, S) bool}``.
    """

    def __init__(self, arrays: dict[str, np.ndarray], depth_scale: float) -> None:
        from def_features.model.unet import normalise_depth

        image = torch.from_numpy(np.asarray(arrays["image"], np.float32))
        self.mask = image > 0
        self.input = normalise_depth(image, self.mask, depth_scale)
        self.distance = torch.from_numpy(np.asarray(arrays["distances"], np.float32))

    def __len__(self) -> int:
        return int(self.input.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input": self.input[i], "distance": self.distance[i], "mask": self.mask[i]}
