"""Import open3d safely.

open3d's wheel links against ``libusb-1.0.so.0``, which minimal machines lack. The
``libusb-package`` wheel ships that library; loading it globally before ``import
open3d`` satisfies the dynamic linker without a system package.
"""

from __future__ import annotations

import ctypes
import functools
from types import ModuleType


@functools.cache
def open3d() -> ModuleType:
    """Return the ``open3d`` module, preloading libusb from ``libusb-package`` if needed."""
    try:
        import libusb_package

        path = libusb_package.get_library_path()
        if path is not None:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except ImportError:  # pragma: no cover - falls back to a system libusb
        pass
    try:
        import open3d as o3d
    except OSError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            "open3d could not be loaded: it needs libusb-1.0.so.0. Install the Python "
            "package 'libusb-package' or the system package 'libusb-1.0-0'."
        ) from exc
    return o3d
