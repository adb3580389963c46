"""Generators and discriminators, chosen by name from one registry."""

from knowgen.models.registry import (
    DISCRIMINATORS,
    GENERATORS,
    ModelConfig,
    build_discriminator,
    build_generator,
)

__all__ = ["DISCRIMINATORS", "GENERATORS", "ModelConfig", "build_discriminator", "build_generator"]
