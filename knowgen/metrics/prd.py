"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each set's k-NN balls approximate its manifold. Precision: share of fakes inside the real
manifold (fidelity); recall: share of reals inside the fake manifold (diversity). Density counts
how many real balls hold each fake (robust to real outliers); coverage: share of real balls
holding at least one fake. No maintained library offers these with custom features, so they are
written here against the papers' definitions, in chunks to bound memory.
"""

from __future__ import annotations

import torch


def kth_neighbour_radius(features: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (N,)."""
    radii = []
    for start in range(0, len(features), chunk):
        distances = torch.cdist(features[start : start + chunk], features)
        # the largest of the k+1 smallest (the row itself is at 0): the same value kthvalue
        # gives, found ~5x faster on CPU (a partial sort, where kthvalue copies each row)
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(radii)


def _ball_counts(
    real: torch.Tensor, fake: torch.Tensor, real_radii: torch.Tensor, fake_radii: torch.Tensor,
    chunk: int = 2048,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """One pass over the fake-to-real distances, each computed once: for each fake, how many real
    balls hold it (N_f,); for each real, how many fake balls hold it (N_r,); for each real ball,
    whether any fake falls in it (N_r,)."""
    fake_in_real = []
    real_in_fake = torch.zeros(len(real), dtype=torch.long)
    hit = torch.zeros(len(real), dtype=torch.bool)
    for start in range(0, len(fake), chunk):
        distances = torch.cdist(fake[start : start + chunk], real)  # (chunk, N_r)
        inside_real = distances <= real_radii[None, :]
        fake_in_real.append(inside_real.sum(1))
        hit |= inside_real.any(0)
        real_in_fake += (distances <= fake_radii[start : start + chunk, None]).sum(0)
    return torch.cat(fake_in_real), real_in_fake, hit


def precision_recall_density_coverage(
    real: torch.Tensor, fake: torch.Tensor, k: int = 5
) -> dict[str, float]:
    """All four in one pass over the distance matrices (k = 5 as in Naeem et al.)."""
    real, fake = real.float(), fake.float()
    real_radii = kth_neighbour_radius(real, k)
    fake_radii = kth_neighbour_radius(fake, k)
    fake_in_real, real_in_fake, real_balls_hit = _ball_counts(real, fake, real_radii, fake_radii)
    return {
        "precision": float((fake_in_real > 0).float().mean()),
        "recall": float((real_in_fake > 0).float().mean()),
        "density": float(fake_in_real.float().mean() / k),
        "coverage": float(real_balls_hit.float().mean()),
    }
