"""Adversarial losses and regularisers as plain functions of discriminator logits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

LossKind = Literal["non-saturating", "hinge", "wgan-gp", "rpgan"]


@dataclass(frozen=True)
class LossConfig:
    """The adversarial objective. `non-saturating` is the seed listing's BCE."""

    kind: LossKind = "non-saturating"
    gp_weight: float = 10.0  # WGAN-GP penalty weight lambda (Gulrajani et al. 2017)
    label_smoothing: float = 0.0  # one-sided: real targets become 1 - s (Salimans et al. 2016)
    r1_weight: float = 0.0  # gamma of the R1 penalty on real images (Mescheder et al. 2018)
    r1_every: int = 16  # lazy R1 (and R2): every k D steps, scaled by k (Karras et al. 2020)
    r2_weight: float = 0.0  # gamma of R2, the same penalty on generated images (R3GAN)
    aux_weight: float = 1.0  # ACGAN class loss weight, when D has an auxiliary classifier
    info_weight: float = 1.0  # InfoGAN: weight lambda of the mutual-information term
    info_continuous_weight: float = 0.1  # InfoGAN: continuous codes' NLL, relative to the above
    info_real_weight: float = 0.0  # InfoGAN: Q's categorical codes as a clustering of real images
    info_real_consistency: float = 0.0  # InfoGAN: Q's codes of real images unchanged by a shift
    mismatch_weight: float = 1.0  # text: real image + another image's caption as a negative

    def __post_init__(self) -> None:
        weights = (
            "r1_weight",
            "r2_weight",
            "aux_weight",
            "info_weight",
            "info_continuous_weight",
            "info_real_weight",
            "info_real_consistency",
            "mismatch_weight",
        )
        for key in weights:
            if getattr(self, key) < 0:
                raise ValueError(f"loss.{key} must be >= 0, got {getattr(self, key)}")
        if self.r1_every < 1:
            raise ValueError(f"loss.r1_every must be >= 1, got {self.r1_every}")
        if self.gp_weight < 0:
            raise ValueError(f"loss.gp_weight must be >= 0, got {self.gp_weight}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(
                f"loss.label_smoothing must be in [0, 0.5), got {self.label_smoothing}"
            )

    @property
    def penalises_gradients(self) -> bool:
        """Whether D's loss differentiates a gradient (R1, R2, WGAN-GP): a double backward."""
        wgan_gp = self.kind == "wgan-gp" and self.gp_weight > 0
        return wgan_gp or self.r1_weight > 0 or self.r2_weight > 0


def d_loss_non_saturating(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0):
    """-log D(x) - log(1 - D(G(z))) with D = sigmoid(logit) (Goodfellow et al. 2014)."""
    real_target = torch.full_like(real, 1.0 - smoothing)
    return F.binary_cross_entropy_with_logits(
        real, real_target
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


def g_loss_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating generator loss."""
    return F.softplus(-fake).mean()


def d_loss_hinge(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))) (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_loss_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    """-mean(D(G(z))): the generator loss of both hinge and WGAN."""
    return -fake.mean()


def d_loss_wasserstein(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0):
    """mean(D(G(z))) - mean(D(x)); the gradient penalty is added separately."""
    return fake.mean() - real.mean()


def d_loss_relativistic(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0):
    """softplus(D(G(z)) - D(x)) over paired real and generated images: RpGAN (Jolicoeur-Martineau
    2019), which R3GAN (Huang et al. 2024) shows has no mode-dropping local optima and, with R1
    and R2, converges locally. Each real image is paired with the generated one at its index."""
    return F.softplus(fake - real).mean()


def g_loss_relativistic(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """softplus(D(x) - D(G(z))): G makes each generated image look more real than its pair."""
    return F.softplus(real - fake).mean()


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at random interpolates x_hat (Gulrajani et al. 2017)."""
    alpha = torch.rand(len(real), 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] on images `real` (made with requires_grad) whose logits are `scores`;
    pulls D's gradient at the data towards zero (Mescheder et al. 2018). On generated images the
    same penalty is R2 (R3GAN: both together keep D and G near the equilibrium)."""
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


D_LOSSES = {
    "non-saturating": d_loss_non_saturating,
    "hinge": d_loss_hinge,
    "wgan-gp": d_loss_wasserstein,
    "rpgan": d_loss_relativistic,
}
# Losses that pair each generated image's logit with a real one's: G's loss needs real logits.
RELATIVISTIC = frozenset({"rpgan"})
# Losses whose logit means something alone (its sign says real or fake); the others define D
# only up to a shift, so whoever reads D's verdict on reals (ADA) takes D(real) - D(fake) instead.
ABSOLUTE_LOGITS = frozenset({"non-saturating", "hinge"})
# The negative half of each D loss alone: what a matching-aware D pays for accepting a real
# image under a caption of something else (Reed et al. 2016, GAN-CLS).
D_NEGATIVE_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "non-saturating": lambda logits: F.softplus(logits).mean(),
    "hinge": lambda logits: F.relu(1.0 + logits).mean(),
    "wgan-gp": lambda logits: logits.mean(),
    "rpgan": lambda logits: F.softplus(logits).mean(),
}
G_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "non-saturating": g_loss_non_saturating,
    "hinge": g_loss_wasserstein,
    "wgan-gp": g_loss_wasserstein,
    "rpgan": g_loss_relativistic,
}
