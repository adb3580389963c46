"""The seed models: the linear GAN's two formulas, and the Keras-style listing made to work.

The listing (MLP generator, conv discriminator, z_dim 100, batch 32) had bugs: its generator ended
in `Dense(1)` and used an undefined `Tanh`/`Flatten`. Here the generator's last Dense emits every
pixel, and Keras' BatchNorm `momentum=0.8` (weight of the old running value) becomes PyTorch's
`momentum=0.2` (weight of the new batch statistic).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from knowgen.knowledge import Conditions
from knowgen.models.layers import Judgement, SameConv2d, init_keras_weights


class LinearGenerator(nn.Module):
    """`G(z) = tanh(W_G z + b_G)`, reshaped to an image."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Generator)
        self.encoder = None
        self.z_dim = z_dim
        self.image_shape = image_shape
        self.linear = nn.Linear(z_dim, math.prod(image_shape))
        nn.init.normal_(self.linear.weight, 0.0, 0.02)
        nn.init.zeros_(self.linear.bias)

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """(B, z_dim) -> images (B, C, H, W) in [-1, 1]."""
        return torch.tanh(self.linear(z)).view(-1, *self.image_shape)


class LinearDiscriminator(nn.Module):
    """`D(x) = sigmoid(W_D [x; 1])`: one weight row over the pixels and a constant 1.

    Returns the logit `W_D [x; 1]`; the sigmoid lives in the loss, where it is numerically safe.
    """

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Discriminator)
        self.encoder = None
        self.q_head = None  # InfoGAN's Q head, set by the training state when a run has codes
        self.weight = nn.Parameter(torch.zeros(1, math.prod(image_shape) + 1))
        nn.init.normal_(self.weight, 0.0, 0.02)

    def judge(self, x: torch.Tensor, cond: Conditions | None = None) -> Judgement:
        """Logits; the features of a linear D are the pixels themselves."""
        flat = x.flatten(1)
        augmented = torch.cat([flat, flat.new_ones(len(flat), 1)], dim=1)  # [x; 1]
        return Judgement((augmented @ self.weight.T).squeeze(1), flat)

    def forward(self, x: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """Images (B, C, H, W) -> logits (B,)."""
        return self.judge(x, cond).logits


class SeedGenerator(nn.Module):
    """Dense(hidden) -> LeakyReLU(0.2) -> BatchNorm(momentum 0.8 Keras) -> Dense(C*H*W) -> tanh."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], hidden: int = 128) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Generator)
        self.encoder = None
        self.z_dim = z_dim
        self.image_shape = image_shape
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.BatchNorm1d(hidden, momentum=0.2, eps=1e-3),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Tanh(),
        )
        self.apply(init_keras_weights)

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """(B, z_dim) -> images (B, C, H, W) in [-1, 1]."""
        return self.net(z).view(-1, *self.image_shape)


class SeedDiscriminator(nn.Module):
    """Conv(64, k4, s2, same) -> LReLU -> BN, then 128 and 256 filters likewise -> Flatten ->
    Dense(1) logit.

    `use_batchnorm=False` drops the three BatchNorms. With them, and D fed all-real and all-fake
    batches, D separates the two by batch statistics alone and the MLP generator never learns
    (its samples stay noise; see the `seed` preset), so the preset turns them off.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        filters: tuple[int, ...] = (64, 128, 256),
        use_batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = 0  # declared capabilities (models.layers.Discriminator)
        self.encoder = None
        self.q_head = None  # InfoGAN's Q head, set by the training state when a run has codes
        channels, height, width = image_shape
        layers: list[nn.Module] = []
        for out_channels in filters:
            layers += [
                SameConv2d(channels, out_channels, kernel_size=4, stride=2),
                nn.LeakyReLU(0.2),
            ]
            if use_batchnorm:
                layers.append(nn.BatchNorm2d(out_channels, momentum=0.2, eps=1e-3))
            channels = out_channels
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels * height * width, 1)
        self.apply(init_keras_weights)

    def judge(self, x: torch.Tensor, cond: Conditions | None = None) -> Judgement:
        """Logits and the flattened features they are read from, from one pass."""
        h = self.features(x).flatten(1)
        return Judgement(self.head(h).squeeze(1), h)

    def forward(self, x: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """Images (B, C, H, W) -> logits (B,)."""
        return self.judge(x, cond).logits
