"""GPU kernels, each with a plain-PyTorch reference and a dispatching public function."""
