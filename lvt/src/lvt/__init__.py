"""lvt: the Latent Video Transformer (Rakhimov et al., VISIGRAPP 2021).

Main entry points (import them from their modules):

- ``lvt.model.vqvae.VQVAE``: the frame autoencoder with n_c EMA codebooks;
- ``lvt.model.transformer.LatentVideoTransformer``: the video transformer on codes;
- ``lvt.sampling.sample_cached`` / ``sample_naive``: generation from priming frames;
- ``lvt.config.PRESETS``: named configurations ("paper", "tiny", ...);
- ``lvt.cli.main``: the ``lvt`` command.
"""

__version__ = "0.1.0"
