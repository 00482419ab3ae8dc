"""Latent codes on disk: one ``.npy`` array (T, h, w, n_c) per video, extracted once by
the VQ-VAE, and a memory-mapped dataset of fixed-length clips for transformer training."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lvt.model.vqvae import VQVAE
from shared_utils.io.atomic import atomic_path


class CodesFormatError(ValueError):
    """A codes folder or file is missing, malformed or inconsistent."""


@torch.no_grad()
def extract_codes(
    vqvae: VQVAE,
    videos: Iterable[tuple[str, np.ndarray]],
    out_dir: str | Path,
    *,
    batch_frames: int = 64,
    device: str | torch.device = "cpu",
) -> list[Path]:
    """Encode videos frame by frame and write ``out_dir/<name>.npy`` (T, h, w, n_c) int16.

    Args:
        videos: (name, frames) pairs, frames (T, H, W, 3) uint8 or float in [0, 1].

    Returns:
        the written paths; ``out_dir/index.json`` lists them with shapes and codebook size.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vqvae.eval()
    written, index = [], []
    for name, frames in videos:
        arr = np.asarray(frames)
        x = torch.from_numpy(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
        x = x.permute(0, 3, 1, 2) * 2 - 1
        codes = torch.cat(
            [
                vqvae.encode(x[i : i + batch_frames].to(device)).cpu()
                for i in range(0, len(x), batch_frames)
            ]
        )
        path = out_dir / f"{name}.npy"
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, codes.numpy().astype(np.int16))
        written.append(path)
        index.append({"file": path.name, "shape": list(codes.shape)})
    meta = {"codebook_size": int(vqvae.cfg.codebook_size), "videos": index}
    (out_dir / "index.json").write_text(json.dumps(meta, indent=1))
    return written


class CodesDataset(Dataset):
    """Clips of ``frames`` latent frames from memory-mapped ``.npy`` files.

    Item i is clip i in a fixed enumeration of (video, start) pairs with the given
    ``stride``; each item is a (frames, h, w, n_c) int64 tensor.
    """

    def __init__(self, root: str | Path, frames: int, *, stride: int | None = None) -> None:
        self.root = Path(root)
        files = sorted(self.root.glob("*.npy"))
        if not files:
            raise CodesFormatError(f"{self.root}: no .npy code files")
        self.arrays: list[np.ndarray] = []
        self.clips: list[tuple[int, int]] = []
        shape = None
        for f in files:
            try:
                arr = np.load(f, mmap_mode="r")
            except Exception as exc:
                raise CodesFormatError(f"{f}: not a .npy array ({exc})") from exc
            if arr.ndim != 4 or not np.issubdtype(arr.dtype, np.integer):
                raise CodesFormatError(
                    f"{f}: codes must be integer (T, h, w, n_c), got {arr.dtype} {arr.shape}"
                )
            if shape is not None and arr.shape[1:] != shape:
                raise CodesFormatError(
                    f"{f}: latent frame shape {arr.shape[1:]} differs from {shape}"
                )
            shape = arr.shape[1:]
            step = stride or frames
            for start in range(0, arr.shape[0] - frames + 1, step):
                self.clips.append((len(self.arrays), start))
            self.arrays.append(arr)
        if not self.clips:
            raise CodesFormatError(f"{self.root}: no video has {frames} latent frames")
        self.frames = frames

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> torch.Tensor:
        v, start = self.clips[i]
        clip = np.asarray(self.arrays[v][start : start + self.frames], dtype=np.int64)
        return torch.from_numpy(clip)
