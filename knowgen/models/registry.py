"""The model registry: one plain dict per kind, and the config that picks from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from knowgen.knowledge.conditioning import condition_classes, condition_encoder
from knowgen.knowledge.config import KnowledgeConfig
from knowgen.models.codes import InfoGenerator, LatentCodes
from knowgen.models.dcgan import DCGANDiscriminator, DCGANGenerator
from knowgen.models.layers import ConditionalBatchNorm2d
from knowgen.models.resnet import ResNetDiscriminator, ResNetGenerator
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
    aux_classifier: bool = False  # sagan, resnet, with knowledge: ACGAN head on D beside projection
    expansion: int = 2  # resnet: a residual block's middle width, as a multiple of its channels
    group_width: int = 16  # resnet: channels per group of the block's 3x3 convolution
    info_categorical: tuple[int, ...] = ()  # InfoGAN: sizes of categorical codes, e.g. [10]
    info_continuous: int = 0  # InfoGAN: how many continuous codes (z_dim stays the noise size)

    def __post_init__(self) -> None:
        if self.name not in GENERATORS:
            raise ValueError(f"unknown model.name {self.name!r}; choose from {sorted(GENERATORS)}")
        sizes = ("z_dim", "width", "max_channels", "hidden", "heads", "expansion", "group_width")
        for key in sizes:
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key} must be >= 1, got {getattr(self, key)}")
        if self.name != "sagan" and self.attention_at:
            raise ValueError(f"model.attention_at needs model.name='sagan' (got {self.name!r})")
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


# Each builder gets the config, the image shape (C, H, W), the number of classes the
# conditioning may use (0 = unconditional) and the knowledge settings.
Builder = Callable[[ModelConfig, ImageShape, int, KnowledgeConfig], nn.Module]

GENERATORS: dict[str, Builder] = {
    "linear": lambda cfg, shape, k, kn: LinearGenerator(cfg.z_dim, shape),
    "seed": lambda cfg, shape, k, kn: SeedGenerator(cfg.z_dim, shape, cfg.hidden),
    "dcgan": lambda cfg, shape, k, kn: DCGANGenerator(
        cfg.z_dim, shape, cfg.width, cfg.max_channels
    ),
    "sagan": lambda cfg, shape, k, kn: SAGANGenerator(
        cfg.z_dim,
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.attention_at,
        cfg.attention,
        cfg.heads,
        encoder=condition_encoder(kn, k, kn.cond_dim, kn.text_noise),
        fusion=kn.reader,
    ),
    "resnet": lambda cfg, shape, k, kn: ResNetGenerator(
        cfg.z_dim,
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.expansion,
        cfg.group_width,
        encoder=condition_encoder(kn, k, kn.cond_dim, kn.text_noise),
    ),
}

DISCRIMINATORS: dict[str, Builder] = {
    "linear": lambda cfg, shape, k, kn: LinearDiscriminator(shape),
    "seed": lambda cfg, shape, k, kn: SeedDiscriminator(shape, use_batchnorm=cfg.d_batchnorm),
    "dcgan": lambda cfg, shape, k, kn: DCGANDiscriminator(
        shape, cfg.width, cfg.max_channels, cfg.d_batchnorm
    ),
    "sagan": lambda cfg, shape, k, kn: SAGANDiscriminator(
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.attention_at,
        cfg.attention,
        cfg.heads,
        encoder_for=lambda dim: condition_encoder(kn, k, dim, for_d=True),
        num_classes=k,
        aux_classifier=cfg.aux_classifier,
        use_batchnorm=cfg.d_batchnorm,
    ),
    "resnet": lambda cfg, shape, k, kn: ResNetDiscriminator(
        shape,
        cfg.width,
        cfg.max_channels,
        cfg.expansion,
        cfg.group_width,
        encoder_for=lambda dim: condition_encoder(kn, k, dim, for_d=True),
        num_classes=k,
        aux_classifier=cfg.aux_classifier,
    ),
}
# The models whose G and D read knowledge (a condition encoder in G, a projection head in D).
CONDITIONAL_MODELS = ("sagan", "resnet")


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


def build_generator(
    cfg: ModelConfig,
    image_shape: ImageShape,
    num_classes: int = 0,
    knowledge: KnowledgeConfig | None = None,
) -> nn.Module:
    """The generator named by `cfg.name` for images of shape (C, H, W); `num_classes` is the
    dataset's (used only when `knowledge.condition` asks for classes)."""
    if cfg.name not in GENERATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(GENERATORS)}")
    knowledge = knowledge or KnowledgeConfig()
    k = condition_classes(knowledge, cfg.aux_classifier, num_classes)
    codes = cfg.codes
    if codes:  # the base generator takes noise + one-hot categorical + continuous codes
        wider = replace(cfg, z_dim=cfg.z_dim + codes.slots)
        generator = InfoGenerator(GENERATORS[cfg.name](wider, image_shape, k, knowledge), codes)
    else:
        generator = GENERATORS[cfg.name](cfg, tuple(image_shape), k, knowledge)
    return add_spectral_norm(generator) if cfg.spectral_norm_g else generator


def build_discriminator(
    cfg: ModelConfig,
    image_shape: ImageShape,
    num_classes: int = 0,
    knowledge: KnowledgeConfig | None = None,
) -> nn.Module:
    """The discriminator named by `cfg.name` for images of shape (C, H, W)."""
    if cfg.name not in DISCRIMINATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(DISCRIMINATORS)}")
    knowledge = knowledge or KnowledgeConfig()
    k = condition_classes(knowledge, cfg.aux_classifier, num_classes)
    discriminator = DISCRIMINATORS[cfg.name](cfg, tuple(image_shape), k, knowledge)
    return add_spectral_norm(discriminator) if cfg.spectral_norm_d else discriminator
