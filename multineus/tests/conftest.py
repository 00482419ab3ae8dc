"""Test set-up: run Triton kernels through the interpreter on the CPU."""

from shared_utils.kernels import enable_triton_interpreter

enable_triton_interpreter()
