"""Test setup: run Triton kernels under the CPU interpreter, one thread per test process."""

import os

from shared_utils.kernels import enable_triton_interpreter

os.environ.setdefault("OMP_NUM_THREADS", "1")
enable_triton_interpreter()
