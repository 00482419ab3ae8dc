"""Data: DensePose-COCO reading/writing, the synthetic body generator, the torch dataset."""
