"""SAGAN-style generator and discriminator (Zhang et al. 2019) at DCGAN's sizes, optionally
conditioned on knowledge.

Same geometry as `dcgan` (28 px: 7 -> 14 -> 28), so the two presets compare layers, not sizes.
What changes: gated self-attention (or a Transformer block) at chosen feature-map resolutions,
spectral normalisation, conditional BatchNorm in G fed by a `KnowledgeEncoder`'s pooled vector,
and a projection head in D (Miyato & Koyama 2018) with an optional ACGAN auxiliary classifier
(Odena et al. 2017). Without conditions both networks are the unconditional SAGAN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from knowgen.knowledge import Conditions, KnowledgeEncoder
from knowgen.models.dcgan import dcgan_geometry, stage_channels
from knowgen.models.layers import (
    ConditionalBatchNorm2d,
    CrossAttention2d,
    ProjectionHeads,
    attention_block,
)


def check_attention_at(attention_at: tuple[int, ...], available: list[int], net: str) -> None:
    """Attention must sit at a hidden feature-map side the network has."""
    wrong = sorted(set(attention_at) - set(available))
    if wrong:
        raise ValueError(
            f"model.attention_at {wrong} is not a hidden resolution of the {net}; "
            f"choose from {available}"
        )


def init_sagan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions and the first projection (as DCGAN); FiLM, embeddings and
    attention gates keep their own initialisation."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class SAGANGenerator(nn.Module):
    """z (+ knowledge) -> Linear to the base grid -> [ConvT 4/2/1, cBN, ReLU, attention?] ->
    ConvT to the image -> tanh."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
        attention_at: tuple[int, ...] = (),
        attention: str = "self",
        heads: int = 1,
        encoder: KnowledgeEncoder | None = None,
        fusion: str = "film",
    ) -> None:
        super().__init__()
        channels, height, width_px = image_shape
        if height != width_px:
            raise ValueError(f"sagan needs square images, got {height}x{width_px}")
        self.z_dim = z_dim
        self.encoder = encoder
        self.num_classes = encoder.num_classes if encoder is not None else 0  # classes asked for
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)
        sides = [base * 2**i for i in range(stages)]
        check_attention_at(attention_at, sides, "generator")
        c_dim = encoder.dim if encoder is not None else 0
        # "concat": the condition joins z only; "film" and "cross-attention" also modulate
        # every stage's BatchNorm; "cross-attention" adds attention to the condition's tokens.
        self.fusion = fusion
        norm_dim = 0 if fusion == "concat" else c_dim
        self.grid = (widths[0], base, base)
        # The condition embedding joins z at the input too (as BigGAN's shared embedding does), so
        # the first layer already knows the class; conditional BatchNorm refines it per stage.
        self.project = nn.Linear(z_dim + c_dim, widths[0] * base * base, bias=False)
        nn.init.normal_(self.project.weight, 0.0, 0.02)
        self.ups = nn.ModuleList(
            [nn.Identity()]
            + [
                nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False)
                for a, b in zip(widths, widths[1:], strict=False)
            ]
        )
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(c, norm_dim) for c in widths)
        cross = fusion == "cross-attention" and encoder is not None
        self.cross = nn.ModuleList(
            CrossAttention2d(c, c_dim, heads) if cross and side in attention_at else nn.Identity()
            for c, side in zip(widths, sides, strict=True)
        )
        self.attentions = nn.ModuleList(
            attention_block(attention, c, heads) if side in attention_at else nn.Identity()
            for c, side in zip(widths, sides, strict=True)
        )
        self.to_image = nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False)
        for module in (*self.ups, self.to_image):
            init_sagan_weights(module)

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """(B, z_dim) and, when conditional, the conditions ({"class": (B,)}, {"text": (B, D)})
        -> images (B, C, H, W) in [-1, 1]."""
        pooled, tokens = None, None
        if self.encoder is not None:
            knowledge = self.encoder(cond)
            pooled, tokens = knowledge.pooled, knowledge.tokens
            z = torch.cat([z, pooled], dim=1)
        norm_cond = None if self.fusion == "concat" else pooled
        x = self.project(z).view(-1, *self.grid)
        stages = zip(self.ups, self.norms, self.attentions, self.cross, strict=True)
        for up, norm, attend, cross in stages:
            x = attend(torch.relu(norm(up(x), norm_cond)))
            if isinstance(cross, CrossAttention2d):
                x = cross(x, tokens)
        return torch.tanh(self.to_image(x))


class SAGANDiscriminator(ProjectionHeads):
    """Image -> [Conv 4/2/1, LReLU, attention?] * stages -> features h -> linear(h)
    + <embed(y), h> (projection) [+ an auxiliary class head]."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: int = 64,
        max_channels: int = 512,
        attention_at: tuple[int, ...] = (),
        attention: str = "self",
        heads: int = 1,
        encoder_for: Callable[[int], KnowledgeEncoder | None] = lambda dim: None,
        num_classes: int = 0,
        aux_classifier: bool = False,
        use_batchnorm: bool = False,
    ) -> None:
        super().__init__()
        channels, height, _ = image_shape
        base, stages = dcgan_geometry(height)
        widths = stage_channels(stages, width, max_channels)[::-1]  # narrow -> wide
        sides = [height // 2 ** (i + 1) for i in range(stages)]
        check_attention_at(attention_at, sides, "discriminator")
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        stages_io = zip([channels, *widths], widths, sides, strict=False)
        for i, (c_in, c_out, side) in enumerate(stages_io):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1))
            layers += [nn.BatchNorm2d(c_out)] if use_batchnorm and i > 0 else []
            layers.append(nn.LeakyReLU(0.2, True))
            if side in attention_at:
                layers.append(attention_block(attention, c_out, heads))
        self.trunk = nn.Sequential(*layers)
        self.trunk.apply(init_sagan_weights)
        feature_dim = widths[-1] * base * base  # the map flattened, as DCGAN's last conv sees it
        self.add_heads(feature_dim, encoder_for, num_classes, aux_classifier)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> trunk features h (B, feature_dim)."""
        return self.trunk(x).flatten(1)
