"""GPU kernels of NPBG++: multi-scale point z-buffer and the aggregation-sum scatter."""
