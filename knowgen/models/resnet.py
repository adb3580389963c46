"""ResNet-style generator and discriminator without normalisation, after R3GAN's modern baseline
(Huang et al., NeurIPS 2024), sized for CPU minutes at 28-64 px.

What is kept from R3GAN: residual blocks with an inverted bottleneck (1x1 expand, grouped 3x3,
1x1 back), leaky ReLU 0.2, no normalisation layer in the trunks (the R1/R2 penalties of the
`rpgan` loss do the stabilising), fix-up initialisation (each block's last convolution starts
at zero, so every block starts as the identity and the network as a shallow one), resampling
by bilinear interpolation / average pooling plus a 1x1 convolution where the width changes, and
the condition joining z at the input (G) and a projection term on D's features (D). What is
cut for a CPU budget: one block per resolution, no block at the full image resolution (G's
last step is a transposed convolution to the image, D's first a strided one, as in DCGAN).

G keeps the tanh of every knowgen generator, and the features entering its last layer are
normalised per pixel over channels (RMS, the "pixel norm" of Karras et al. 2018): the one
normalisation in the model. Without it one seed in four died at the start: within ~20 steps
at lr 2e-3 the last layer's pre-activations ran past tanh's range, every pixel sat at -1 (99.9%
of them, measured) where tanh has no gradient, and G never came back (D loss 0.01 from step
30); bounding what the last layer sees (the trunk's activations can grow unchecked) stops it.
Dropping the tanh instead (R3GAN's linear output) stopped the collapse but halved the quality
per step here (FID 235 against 115 after 3,000 steps, seed 0); the norm stops it at the same
quality (115) and 0 of 8 seeds collapse.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from knowgen.knowledge import Conditions, KnowledgeEncoder
from knowgen.models.dcgan import dcgan_geometry, stage_channels
from knowgen.models.layers import ProjectionHeads, flatten_features


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))): R3GAN's inverted bottleneck.

    `expansion` widens the middle; `group_width` channels share each 3x3 filter group (a
    `group_width` >= the middle width is a plain 3x3 convolution). The last convolution starts
    at zero (fix-up initialisation), so the block starts as the identity and no normalisation
    is needed to keep activations in range as blocks are stacked.
    """

    def __init__(self, channels: int, expansion: int = 2, group_width: int = 16) -> None:
        super().__init__()
        middle = channels * expansion
        groups = max(1, middle // group_width)
        self.expand = nn.Conv2d(channels, middle, 1)
        self.mix = nn.Conv2d(middle, middle, 3, padding=1, groups=groups)
        self.project = nn.Conv2d(middle, channels, 1)
        nn.init.kaiming_normal_(self.expand.weight, a=0.2, nonlinearity="leaky_relu")
        nn.init.kaiming_normal_(self.mix.weight, a=0.2, nonlinearity="leaky_relu")
        nn.init.zeros_(self.project.weight)
        for conv in (self.expand, self.mix, self.project):
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(x), 0.2)
        h = F.leaky_relu(self.mix(h), 0.2)
        return x + self.project(h)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit RMS over channels (in fp32 under autocast):
    bounds what G's last layer sees however far the trunk's activations have grown."""
    scale = torch.rsqrt(x.float().pow(2).mean(dim=1, keepdim=True) + eps)
    return x * scale.to(x.dtype)


def init_transition(conv: nn.Module) -> nn.Module:
    """He initialisation for the convolutions between resolutions (leaky ReLU 0.2 follows)."""
    nn.init.kaiming_normal_(conv.weight, a=0.2, nonlinearity="leaky_relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


class ResNetGenerator(nn.Module):
    """z (+ knowledge) -> Linear to the base grid -> [block, 2x bilinear up, 1x1 conv] per
    stage -> block -> pixel norm -> ConvT 4/2/1 to the image -> tanh."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
        expansion: int = 2,
        group_width: int = 16,
        encoder: KnowledgeEncoder | None = None,
    ) -> None:
        super().__init__()
        channels, height, width_px = image_shape
        if height != width_px:
            raise ValueError(f"resnet needs square images, got {height}x{width_px}")
        self.z_dim = z_dim
        self.encoder = encoder
        self.num_classes = encoder.num_classes if encoder is not None else 0
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)
        c_dim = encoder.dim if encoder is not None else 0
        self.grid = (widths[0], base, base)
        self.project = nn.Linear(z_dim + c_dim, widths[0] * base * base)
        nn.init.kaiming_normal_(self.project.weight, a=0.2, nonlinearity="leaky_relu")
        nn.init.zeros_(self.project.bias)
        self.blocks = nn.ModuleList(ResidualBlock(c, expansion, group_width) for c in widths)
        self.transitions = nn.ModuleList(
            init_transition(nn.Conv2d(a, b, 1)) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.to_image = nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)
        nn.init.normal_(self.to_image.weight, 0.0, 0.02)
        nn.init.zeros_(self.to_image.bias)

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """(B, z_dim) (+ conditions) -> images (B, C, H, W) in [-1, 1]."""
        if self.encoder is not None:
            z = torch.cat([z, self.encoder(cond).pooled], dim=1)
        x = F.leaky_relu(self.project(z), 0.2).view(-1, *self.grid)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.transitions):
                up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                x = F.leaky_relu(self.transitions[i](up), 0.2)
        return torch.tanh(self.to_image(pixel_norm(x)))


class ResNetDiscriminator(ProjectionHeads):
    """Image -> Conv 4/2/1 -> [block, 1x1 conv, 2x average pool] per stage -> features h ->
    linear(h) + <embed(cond), h> (projection) [+ an auxiliary class head]."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
        expansion: int = 2,
        group_width: int = 16,
        encoder_for: Callable[[int], KnowledgeEncoder | None] = lambda dim: None,
        num_classes: int = 0,
        aux_classifier: bool = False,
    ) -> None:
        super().__init__()
        channels, height, _ = image_shape
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)[::-1]  # narrow -> wide
        self.num_classes = num_classes
        self.from_image = init_transition(nn.Conv2d(channels, widths[0], 4, 2, 1))
        self.blocks = nn.ModuleList(ResidualBlock(c, expansion, group_width) for c in widths)
        self.transitions = nn.ModuleList(
            init_transition(nn.Conv2d(a, b, 1)) for a, b in zip(widths, widths[1:], strict=False)
        )
        feature_dim = widths[-1] * base * base
        self.add_heads(feature_dim, encoder_for, num_classes, aux_classifier)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> trunk features h (B, feature_dim)."""
        x = F.leaky_relu(self.from_image(x), 0.2)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.transitions):
                x = F.avg_pool2d(F.leaky_relu(self.transitions[i](x), 0.2), 2)
        return flatten_features(x)
