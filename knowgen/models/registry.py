"""The model registry: one plain dict per kind, and the config that picks from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from knowgen.models.dcgan import DCGANDiscriminator, DCGANGenerator
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

    def __post_init__(self) -> None:
        if self.name not in GENERATORS:
            raise ValueError(f"unknown model.name {self.name!r}; choose from {sorted(GENERATORS)}")
        for key in ("z_dim", "width", "max_channels", "hidden"):
            if getattr(self, key) < 1:
                raise ValueError(f"model.{key} must be >= 1, got {getattr(self, key)}")


GENERATORS: dict[str, Callable[[ModelConfig, ImageShape], nn.Module]] = {
    "linear": lambda cfg, shape: LinearGenerator(cfg.z_dim, shape),
    "seed": lambda cfg, shape: SeedGenerator(cfg.z_dim, shape, cfg.hidden),
    "dcgan": lambda cfg, shape: DCGANGenerator(cfg.z_dim, shape, cfg.width, cfg.max_channels),
}

DISCRIMINATORS: dict[str, Callable[[ModelConfig, ImageShape], nn.Module]] = {
    "linear": lambda cfg, shape: LinearDiscriminator(shape),
    "seed": lambda cfg, shape: SeedDiscriminator(shape, use_batchnorm=cfg.d_batchnorm),
    "dcgan": lambda cfg, shape: DCGANDiscriminator(
        shape, cfg.width, cfg.max_channels, cfg.d_batchnorm
    ),
}


def build_generator(cfg: ModelConfig, image_shape: ImageShape) -> nn.Module:
    """The generator named by `cfg.name` for images of shape (C, H, W)."""
    if cfg.name not in GENERATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(GENERATORS)}")
    return GENERATORS[cfg.name](cfg, tuple(image_shape))


def build_discriminator(cfg: ModelConfig, image_shape: ImageShape) -> nn.Module:
    """The discriminator named by `cfg.name` for images of shape (C, H, W)."""
    if cfg.name not in DISCRIMINATORS:
        raise ValueError(f"unknown model.name {cfg.name!r}; choose from {sorted(DISCRIMINATORS)}")
    return DISCRIMINATORS[cfg.name](cfg, tuple(image_shape))
