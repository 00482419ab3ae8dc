"""Seeding, determinism switches and capture/restore of every random number generator.

:func:`seed_everything` seeds Python's ``random``, numpy's legacy global generator and
torch (CPU and all CUDA devices). :func:`capture_rng_state` returns those states in a form
that ``torch.load(weights_only=True)`` accepts (tensors, ints, floats, lists, dicts), so
they can travel inside a checkpoint; :func:`restore_rng_state` puts them back.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; optionally ask torch for deterministic kernels.

    Args:
        seed: the seed (any non-negative int; numpy receives ``seed % 2**32``).
        deterministic: ``torch.use_deterministic_algorithms(True, warn_only=True)`` (ops
            without a deterministic kernel warn instead of failing), cuDNN deterministic
            and not benchmarking. On CPU this makes runs bit-reproducible; on CUDA it
            also sets ``CUBLAS_WORKSPACE_CONFIG`` unless the user already set it.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    # The legacy global generator is what code calling np.random.* draws from: seed it.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs a fixed workspace for reproducible GEMMs; must be set before use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic
    set_deterministic_algorithms(deterministic)


def set_deterministic_algorithms(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode, warn_only=True)``, without its import cost.

    The public call imports the whole inductor compiler (seconds per process, paid by
    every torchrun worker) only to copy the flag into ``torch._inductor.config``. While
    inductor is not loaded yet, the same effect is had by setting the flag in torch's C++
    core and ``TORCHINDUCTOR_DETERMINISTIC``, which inductor's config reads on import.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1" if mode else "0"
    setter(mode, warn_only=True)


def capture_rng_state() -> dict[str, Any]:
    """The states of python, numpy and torch (CPU, CUDA) generators, weights_only-safe.

    Returns:
        ``{"python": {...}, "numpy": {...}, "torch": uint8 tensor, "cuda": [uint8 tensors]}``
        (``cuda`` is an empty list when CUDA is not initialised).
    """
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)  # noqa: NPY002
    cuda_states: list[torch.Tensor] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda_states = list(torch.cuda.get_rng_state_all())
    return {
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "name": str(name),
            # uint32 keys as int64 so the tensor survives weights_only loading unchanged.
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": cuda_states,
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore generators from :func:`capture_rng_state` output.

    CUDA states are restored only when the number of visible devices matches.
    """
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    legacy = (npy["name"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
