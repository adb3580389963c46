"""FID and KID in the evaluator's feature space, computed by torchmetrics.

torchmetrics accepts any feature extractor module; we hand it an identity over features we have
already extracted, so its tested statistics do the math and our evaluator defines the space.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class PrecomputedFeatures(nn.Module):
    """Identity 'extractor': the metric's input already is the (N, F) feature matrix."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def compute_fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to real and fake features (Heusel et al. 2017):
    |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))."""
    metric = FrechetInceptionDistance(feature=PrecomputedFeatures(real.shape[1]))
    metric.set_dtype(torch.float64)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def compute_kid(
    real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic
    polynomial kernel, mean and std over random subsets (seeded, so repeatable)."""
    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # "saves all features in a buffer": intended here
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=PrecomputedFeatures(real.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real.float(), real=True)
    metric.update(fake.float(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        mean, std = metric.compute()
    return float(mean), float(std)
