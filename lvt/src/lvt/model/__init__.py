"""The networks: VQ-VAE, quantiser, subscale slicing, transformer layers and model."""
