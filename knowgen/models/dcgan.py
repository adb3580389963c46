"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

Sized from the image: the side is halved while it stays even and >= 8 (28 -> 14 -> 7, 64 -> 32 ->
16 -> 8 -> 4), giving a base grid and the number of 2x up/down-sampling stages. At 64 px this is
exactly the PyTorch tutorial's network (512@4 -> 256@8 -> 128@16 -> 64@32 -> 3@64).
"""

from __future__ import annotations

import torch
from torch import nn

from knowgen.knowledge import Conditions
from knowgen.models.layers import Judgement, init_dcgan_weights


def dcgan_geometry(side: int) -> tuple[int, int]:
    """(base grid side, number of 2x stages) for a square image of `side` pixels."""
    stages = 0
    while side % 2 == 0 and side >= 8:
        side //= 2
        stages += 1
    if stages == 0:
        raise ValueError(f"dcgan needs an image side divisible by 2 and >= 8, got {side}")
    return side, stages


def stage_channels(stages: int, width: int, max_channels: int) -> list[int]:
    """Channels at each grid from the base (widest) up to the last hidden stage (`width`)."""
    return [min(width * 2 ** (stages - 1 - i), max_channels) for i in range(stages)]


class DCGANGenerator(nn.Module):
    """z (B, z_dim) -> ConvT to the base grid -> [ConvT 4/2/1, BN, ReLU] * stages -> tanh image."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Generator)
        self.encoder = None
        channels, height, width_px = image_shape
        if height != width_px:
            raise ValueError(f"dcgan needs square images, got {height}x{width_px}")
        self.z_dim = z_dim
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)
        self.grid = (widths[0], base, base)
        # z (a 1x1 map) -> base x base: a ConvTranspose2d whose product is computed in forward.
        self.project = nn.ConvTranspose2d(z_dim, widths[0], base, 1, 0, bias=False)
        layers: list[nn.Module] = [nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """(B, z_dim) -> images (B, C, H, W) in [-1, 1].

        On a 1x1 input the first transposed convolution is exactly `z @ W.view(z_dim, -1)`;
        computing it as that one matrix product gives the same numbers several times faster on
        CPU than the ConvTranspose2d kernel (measured in benchmarks/throughput.py).
        """
        projected = z @ self.project.weight.flatten(1)  # (B, C0 * base * base)
        return self.net(projected.view(-1, *self.grid))


def dcgan_trunk(channels: int, widths: list[int], use_batchnorm: bool) -> list[nn.Module]:
    """D's feature stages: Conv 4/2/1 + LReLU, then [Conv 4/2/1, BN, LReLU] per stage.

    Shared with the transfer teacher, so that a teacher's trunk loads into D's (transfer mode
    "init") with no renaming.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, True),
    ]
    for c_in, c_out in zip(widths, widths[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
        layers += [nn.BatchNorm2d(c_out)] if use_batchnorm else []
        layers += [nn.LeakyReLU(0.2, True)]
    return layers


class DCGANDiscriminator(nn.Module):
    """Image -> Conv 4/2/1 + LReLU -> [Conv 4/2/1, BN, LReLU] * (stages-1) -> Conv to 1 logit."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
        use_batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Discriminator)
        self.encoder = None
        self.q_head = None  # InfoGAN's Q head, set by the training state when a run has codes
        channels, height, _ = image_shape
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)[::-1]  # narrow -> wide
        layers = dcgan_trunk(channels, widths, use_batchnorm)
        layers += [nn.Conv2d(widths[-1], 1, base, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def judge(self, x: torch.Tensor, cond: Conditions | None = None) -> Judgement:
        """Logits and the trunk's last feature map, flattened, from one pass."""
        h = self.net[:-1](x)
        return Judgement(self.net[-1](h).flatten(), h.flatten(1))

    def forward(self, x: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """Images (B, C, H, W) -> logits (B,)."""
        return self.net(x).flatten()
