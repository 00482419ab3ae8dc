"""NeuS volume rendering: ray/sphere bounds, hierarchical up-sampling, the render core."""
