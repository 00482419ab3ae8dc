"""GPU kernels (Triton) with plain-PyTorch references and dispatching public functions."""
