"""Support for the members' Triton kernels: dispatch, interpreter set-up, comparisons.

Every kernel in the workspace has a plain-PyTorch reference and a Triton twin. The
public function of a kernel takes ``implementation="auto" | "torch" | "triton"`` and
calls :func:`resolve_implementation` to pick one:

- ``"torch"``: the reference, on any device.
- ``"triton"``: the Triton kernel; needs CUDA tensors, or CPU tensors under the Triton
  interpreter (``TRITON_INTERPRET=1``, used by the tests).
- ``"auto"``: Triton for CUDA tensors when Triton imports, the reference otherwise.

Tests call :func:`enable_triton_interpreter` from ``conftest.py`` *before* importing any
kernel module: Triton reads the variable when a kernel is defined.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Literal

import torch

Implementation = Literal["auto", "torch", "triton"]
IMPLEMENTATIONS: tuple[str, ...] = ("auto", "torch", "triton")


def enable_triton_interpreter() -> None:
    """Run Triton kernels on the CPU through the interpreter (for tests).

    Must run before any module that defines a ``@triton.jit`` kernel is imported.
    """
    os.environ["TRITON_INTERPRET"] = "1"


def triton_interpreter_enabled() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is set in this process."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.cache
def triton_available() -> bool:
    """Whether the ``triton`` package can be imported here."""
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        import triton  # noqa: F401
    except Exception:  # pragma: no cover - broken installs
        return False
    return True


def triton_unavailable_reason(*tensors: torch.Tensor) -> str | None:
    """Why Triton cannot run on these tensors here, or ``None`` when it can."""
    if not triton_available():
        return "the 'triton' package is not installed"
    devices = {t.device.type for t in tensors}
    if devices <= {"cuda"}:
        return None
    if devices <= {"cpu"} and triton_interpreter_enabled():
        return None
    if triton_interpreter_enabled():
        return f"the Triton interpreter runs on CPU tensors only, got devices {sorted(devices)}"
    return (
        f"Triton needs CUDA tensors (got devices {sorted(devices)}); set TRITON_INTERPRET=1 "
        "to run the kernel on the CPU through the interpreter"
    )


def resolve_implementation(implementation: str, *tensors: torch.Tensor, op: str = "kernel") -> str:
    """Pick ``"torch"`` or ``"triton"`` for these input tensors.

    Args:
        implementation: ``"auto"``, ``"torch"`` or ``"triton"``.
        tensors: the op's tensor inputs (their devices decide ``"auto"``).
        op: the op's name, used in error messages.

    Raises:
        ValueError: for an unknown implementation name.
        RuntimeError: when ``"triton"`` is asked for but cannot run, with the reason.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"{op}: implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}"
        )
    if implementation == "torch":
        return "torch"
    reason = triton_unavailable_reason(*tensors)
    if implementation == "triton":
        if reason is not None:
            raise RuntimeError(f"{op}: implementation='triton' cannot run here: {reason}")
        return "triton"
    on_cuda = bool(tensors) and all(t.device.type == "cuda" for t in tensors)
    return "triton" if on_cuda and reason is None else "torch"


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    name: str = "tensor",
    equal_nan: bool = False,
) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    On failure the message names the worst element: its index, both values, the
    absolute and relative errors, and how many elements are out of tolerance.
    """
    a = torch.as_tensor(actual)
    e = torch.as_tensor(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: shape {tuple(a.shape)} != expected {tuple(e.shape)}")
    if a.numel() == 0:
        return
    if not (a.is_floating_point() or a.is_complex()):
        mismatch = a.cpu() != e.cpu()
        if bool(mismatch.any()):
            idx = tuple(int(i) for i in torch.nonzero(mismatch)[0])
            raise AssertionError(
                f"{name}: {int(mismatch.sum())}/{a.numel()} elements differ; first at index "
                f"{idx}: {a.cpu()[idx].item()} != {e.cpu()[idx].item()}"
            )
        return
    a64 = a.detach().cpu().to(torch.float64)
    e64 = e.detach().cpu().to(torch.float64)
    err = (a64 - e64).abs()
    tol = atol + rtol * e64.abs()
    nan_a, nan_e = torch.isnan(a64), torch.isnan(e64)
    bad = err > tol
    if equal_nan:
        bad = (bad & ~(nan_a & nan_e)) | (nan_a ^ nan_e)
    else:
        bad = bad | nan_a | nan_e
    if not bool(bad.any()):
        return
    excess = torch.where(bad, torch.nan_to_num(err - tol, nan=float("inf")), torch.zeros_like(err))
    flat = int(torch.argmax(excess))
    idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape))
    worst_a, worst_e = a64[idx].item(), e64[idx].item()
    abs_err = abs(worst_a - worst_e)
    rel_err = abs_err / max(abs(worst_e), 1e-30)
    raise AssertionError(
        f"{name}: {int(bad.sum())}/{a.numel()} elements out of tolerance "
        f"(rtol={rtol}, atol={atol}); worst at index {idx}: actual {worst_a!r}, "
        f"expected {worst_e!r}, abs err {abs_err:.3e}, rel err {rel_err:.3e}"
    )
