"""Triton kernels with PyTorch references: NeuS weights/accumulation, inverse-CDF sampling."""
