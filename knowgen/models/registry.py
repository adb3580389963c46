"""The model registry: one plain dict per kind, and the config that picks from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from knowgen.knowledge.conditioning import condition_classes, condition_encoder, fusion_mode
from knowgen.models.codes import InfoGenerator, LatentCodes
from knowgen.models.dcgan import DCGANDiscriminator, DCGANGenerator
from knowgen.models.layers import ConditionalBatchNorm2d
from knowgen.models.sagan import SAGANDiscriminator, SAGANGenerator
from knowgen.models.seed import (
    LinearDiscriminator,
    LinearGenerator,
    SeedDiscriminator,
    SeedGenerator,
)

ImageShape = tuple[int, int, int]


@dataclass(frozen=True)
class ModelConfig:
    """Which generator/discriminator pair, and its sizes."""

    name: str = "dcgan"
    z_dim: int = 100
    width: int = 64  # dcgan: channels of the finest hidden stage (doubles per coarser stage)
    max_channels: int = 512
    hidden: int = 128  # seed: units of the generator's hidden Dense layer
    d_batchnorm: bool = True  # dcgan, seed: BatchNorm in D (off for wgan-gp: per-sample penalty)
    spectral_norm_g: bool = False  # spectral normalisation of every conv/linear weight of G
    spectral_norm_d: bool = False  # ... of D (Miyato et al. 2018)
    attention: Literal["self", "transformer"] = "self"  # sagan: gated attention or full block
    attention_at: tuple[int, ...] = ()  # sagan: feature-map sides that get one, e.g. [14]
    heads: int = 1  # sagan: attention heads
    condition: Literal["none", "class", "text", "fusion"] = "none"  # sagan: knowledge given
    cond_dim: int = 128  # sagan: width of G's condition embedding (feeds conditional BatchNorm)
    aux_classifier: bool = False  # sagan, conditional: ACGAN class head on D besides projection
    text_model: str = "all-MiniLM-L6-v2"  # text (or fusion "text"): packaged model or a folder
    text_dim: int = 384  # text: the sentence embedding's size (the model's)
    text_noise: float = 0.0  # text: std of noise on G's embeddings while training
    fusion: Literal["concat", "film", "cross-attention"] = "film"  # condition="fusion": how G reads
    fusion_kinds: tuple[str, ...] = ("class", "hue", "structure")  # fusion: any of FUSION_KINDS
    condition_dropout: float = 0.1  # condition="fusion": P(a kind is left out of an image)
    single_kind_prob: float = 0.0  # fusion: P(an image keeps only one kind, chosen at random)
    info_categorical: tuple[int, ...] = ()  # InfoGAN: sizes of categorical codes, e.g. [10]
    info_continuous: int = 0  # InfoGAN: how many continuous codes (z_dim stays the noise size)

    def __post_init__(self) -> None:
        if self.name not in GENERATORS:
            raise ValueError(f"unknown model.name {self.name!r}; choose from {sorted(GENERATORS)}")
        for key in ("z_dim", "width", "max_channels", "hidden", "heads", "cond_dim", "text_dim"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key} must be >= 1, got {getattr(self, key)}")
        if self.name != "sagan":
            for key, off in (("attention_at", ()), ("condition", "none")):
                if getattr(self, key) != off:
                    raise ValueError(f"model.{key} needs model.name='sagan' (got {self.name!r})")
        if not 0 <= self.condition_dropout < 1:
            raise ValueError(
                f"model.condition_dropout must be in [0, 1), got {self.condition_dropout}"
            )
        if not 0 <= self.single_kind_prob <= 1:
            raise ValueError(
                f"model.single_kind_prob must be in [0, 1], got {self.single_kind_prob}"
            )
        if self.text_noise < 0:
            raise ValueError(f"model.text_noise must be >= 0, got {self.text_noise}")
        if self.aux_classifier and not self.conditional:
            raise ValueError("model.aux_classifier needs a conditional model (model.condition)")
        try:
            codes = self.codes
        except ValueError as err:
            raise ValueError(f"model.info_categorical/info_continuous: {err}") from None
        if codes and self.name == "linear":
            raise ValueError("InfoGAN codes need a discriminator with a trunk, not model 'linear'")

    @property
    def codes(self) -> LatentCodes:
        """InfoGAN's latent codes (empty: a plain GAN)."""
        return LatentCodes(tuple(self.info_categorical), self.info_continuous)

    @property
    def conditional(self) -> bool:
        return self.condition != "none"


# Each builder gets the config, the image shape (C, H, W) and the number of classes the
# conditioning may use (0 = unconditional).
Builder = Callable[[ModelConfig, ImageShape, int], nn.Module]

GENERATORS: dict[str, Builder] = {
    "linear": lambda cfg, shape, k: LinearGenerator(cfg.z_dim, shape),
    "seed": lambda cfg, shape, k: SeedGenerator(cfg.z_dim, shape, cfg.hidden),
    "dcgan": lambda cfg, shape, k: DCGANGenerator(cfg.z_dim, shape, cfg.width, cfg.max_channels),
    "sagan": lambda cfg, shape, k: SAGANGenerator(
        cfg.z_dim,
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.attention_at,
        cfg.attention,
        cfg.heads,
        encoder=condition_encoder(cfg, k, cfg.cond_dim, cfg.text_noise),
        fusion=fusion_mode(cfg),
    ),
}

DISCRIMINATORS: dict[str, Builder] = {
    "linear": lambda cfg, shape, k: LinearDiscriminator(shape),
    "seed": lambda cfg, shape, k: SeedDiscriminator(shape, use_batchnorm=cfg.d_batchnorm),
    "dcgan": lambda cfg, shape, k: DCGANDiscriminator(
        shape, cfg.width, cfg.max_channels, cfg.d_batchnorm
    ),
    "sagan": lambda cfg, shape, k: SAGANDiscriminator(
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.attention_at,
        cfg.attention,
        cfg.heads,
        encoder_for=lambda dim: condition_encoder(cfg, k, dim, for_d=True),
        num_classes=k,
        aux_classifier=cfg.aux_classifier,
        use_batchnorm=cfg.d_batchnorm,
    ),
}


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every conv and linear weight of `module` (Miyato et al. 2018).

    Embeddings are left alone (the projection term reads them as directions, not as a layer), and
    so are conditional BatchNorm's FiLM layers: they start at zero, where the spectral norm is 0.
    """
    film = {
        id(m.film) for m in module.modules() if isinstance(m, ConditionalBatchNorm2d) and m.cond_dim
    }
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear) and id(layer) not in film:
            spectral_norm(layer)
    return module


def build_generator(cfg: ModelConfig, image_shape: ImageShape, num_classes: int = 0) -> nn.Module:
    """The generator named by `cfg.name` for images of shape (C, H, W); `num_classes` is the
    dataset's (used only when `cfg.condition` asks for classes)."""
    if cfg.name not in GENERATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(GENERATORS)}")
    k = condition_classes(cfg, num_classes)
    codes = cfg.codes
    if codes:  # the base generator takes noise + one-hot categorical + continuous codes
        base = GENERATORS[cfg.name](replace(cfg, z_dim=cfg.z_dim + codes.slots), image_shape, k)
        generator = InfoGenerator(base, codes)
    else:
        generator = GENERATORS[cfg.name](cfg, tuple(image_shape), k)
    return add_spectral_norm(generator) if cfg.spectral_norm_g else generator


def build_discriminator(
    cfg: ModelConfig, image_shape: ImageShape, num_classes: int = 0
) -> nn.Module:
    """The discriminator named by `cfg.name` for images of shape (C, H, W)."""
    if cfg.name not in DISCRIMINATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(DISCRIMINATORS)}")
    k = condition_classes(cfg, num_classes)
    discriminator = DISCRIMINATORS[cfg.name](cfg, tuple(image_shape), k)
    return add_spectral_norm(discriminator) if cfg.spectral_norm_d else discriminator
