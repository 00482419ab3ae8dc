"""Test set-up: run Triton kernels through the CPU interpreter.

The interpreter must be enabled before any module defining a ``@triton.jit`` kernel
is imported, so this runs at conftest import time.
"""

from shared_utils.kernels import enable_triton_interpreter

enable_triton_interpreter()
