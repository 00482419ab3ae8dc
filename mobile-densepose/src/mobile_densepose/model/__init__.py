"""The two-stage DensePose networks: backbone, neck, RPN, box head, DensePose head."""
