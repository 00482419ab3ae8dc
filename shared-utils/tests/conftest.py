"""Run Triton kernels through the interpreter on CPU: must happen before kernels are defined."""

from shared_utils.kernels import enable_triton_interpreter

enable_triton_interpreter()
