"""Evaluation: box AP (pycocotools) and DensePose AP with geodesic point similarity."""
