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
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # +1: the row itself is at 0
    return torch.cat(radii)


def _ball_counts(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk=2048):
    """For each query, how many of the balls (centres, radii) contain it (N_q,); and for each
    ball, whether any query falls in it (N_c,)."""
    counts = []
    hit = torch.zeros(len(centres), dtype=torch.bool)
    for start in range(0, len(queries), chunk):
        inside = torch.cdist(queries[start : start + chunk], centres) <= radii[None, :]
        counts.append(inside.sum(1))
        hit |= inside.any(0)
    return torch.cat(counts), hit


def precision_recall_density_coverage(
    real: torch.Tensor, fake: torch.Tensor, k: int = 5
) -> dict[str, float]:
    """All four in one pass over the distance matrices (k = 5 as in Naeem et al.)."""
    real, fake = real.float(), fake.float()
    real_radii = kth_neighbour_radius(real, k)
    fake_radii = kth_neighbour_radius(fake, k)
    fake_in_real, real_balls_hit = _ball_counts(fake, real, real_radii)
    real_in_fake, _ = _ball_counts(real, fake, fake_radii)
    return {
        "precision": float((fake_in_real > 0).float().mean()),
        "recall": float((real_in_fake > 0).float().mean()),
        "density": float(fake_in_real.float().mean() / k),
        "coverage": float(real_balls_hit.float().mean()),
    }
