"""Checkpoints written atomically with a content hash, loaded only after verification.

A checkpoint is one ``torch.save`` file plus a ``.sha256`` file beside it::

    checkpoints/
      step_00000100.pt          the state dict (tensors and plain Python only)
      step_00000100.pt.sha256   "<hex digest>  step_00000100.pt"
      latest                    the name of the newest complete checkpoint

Each file is written to a temporary file in the same folder, flushed with ``fsync`` and
renamed over the target, so a crash leaves either the old file or the new one, never a
half-written one. The ``latest`` pointer is written last: it names a checkpoint only once
both the data and its hash are on disk.

Loading recomputes the sha256 and refuses a file whose digest differs from the recorded
one (truncated, bit-flipped or swapped files), then unpickles with
``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers: a
file handed over by someone else cannot run code. Every failure raises
:class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import torch

from shared_utils.io.atomic import atomic_path, atomic_write_text

LATEST_NAME = "latest"
"""File in the checkpoint folder holding the name of the newest complete checkpoint."""

_STEP_PATTERN = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupted, unverifiable or not a state dict."""


# --------------------------------------------------------------------------- hashing
def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_path(path: str | os.PathLike[str]) -> Path:
    """The ``.sha256`` file recording the digest of checkpoint ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


# --------------------------------------------------------------------------- save / load
def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> str:
    """Save ``state`` to ``path`` atomically and record its sha256 beside it.

    Args:
        state: tensors and plain Python (dict, list, tuple, int, float, str, bool, None)
            only, so that it loads with ``weights_only=True``.
        path: the checkpoint file, e.g. ``run/checkpoints/step_00000100.pt``.

    Returns:
        The hex sha256 of the written file.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        digest = file_sha256(tmp)
    atomic_write_text(hash_path(path), f"{digest}  {path.name}\n")
    return digest


def verify_checkpoint(path: str | os.PathLike[str]) -> str:
    """Check that ``path`` matches its recorded sha256; return the digest.

    Raises:
        CheckpointError: the file or its ``.sha256`` is missing or the digests differ.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    record = hash_path(path)
    if not record.is_file():
        raise CheckpointError(
            f"checkpoint {path} has no hash file {record.name}; refusing to load an "
            "unverified checkpoint"
        )
    fields = record.read_text(encoding="utf-8").split()
    if not fields or not re.fullmatch(r"[0-9a-f]{64}", fields[0]):
        raise CheckpointError(f"hash file {record} of checkpoint {path} is malformed")
    expected = fields[0]
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(
            f"checkpoint {path} is corrupted or truncated: its sha256 {actual} differs from "
            f"{expected} recorded in {record.name}"
        )
    return actual


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Verify the sha256 of ``path``, then load it with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: missing, corrupted or unloadable file, or not a dict.
    """
    path = Path(path)
    verify_checkpoint(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"cannot load checkpoint {path}: {error}") from error
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state


# --------------------------------------------------------------------------- folders
def checkpoint_name(step: int) -> str:
    """File name of the checkpoint after ``step`` completed optimizer steps."""
    return f"step_{step:08d}.pt"


def step_of(path: str | os.PathLike[str]) -> int | None:
    """The step encoded in a checkpoint file name, or None for other files."""
    match = _STEP_PATTERN.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The ``step_*.pt`` files of a folder, oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(step_of(p), p) for p in directory.iterdir() if step_of(p) is not None]
    return [p for _, p in sorted(found, key=lambda item: item[0] or 0)]


def write_latest(directory: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Point ``directory/latest`` at checkpoint ``path`` (atomically)."""
    atomic_write_text(Path(directory) / LATEST_NAME, Path(path).name + "\n")


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint named by ``directory/latest``, or None when there is none.

    Without a ``latest`` file (e.g. a folder copied by hand) the highest step wins.

    Raises:
        CheckpointError: ``latest`` names a file that does not exist.
    """
    directory = Path(directory)
    pointer = directory / LATEST_NAME
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        target = directory / name
        if not target.is_file():
            raise CheckpointError(f"{pointer} names {name!r}, which does not exist")
        return target
    existing = list_checkpoints(directory)
    return existing[-1] if existing else None


def prune_checkpoints(directory: str | os.PathLike[str], keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints (never the one ``latest`` names).

    Returns:
        The removed checkpoint files.
    """
    if keep <= 0:
        return []
    directory = Path(directory)
    protected = latest_checkpoint(directory)
    existing = list_checkpoints(directory)
    removed = []
    for path in existing[: max(len(existing) - keep, 0)]:
        if protected is not None and path.name == protected.name:
            continue
        path.unlink(missing_ok=True)
        hash_path(path).unlink(missing_ok=True)
        removed.append(path)
    return removed
