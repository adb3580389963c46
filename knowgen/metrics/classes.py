"""What the evaluator's class predictions say: Inception Score, mode coverage, conditional
accuracy and intra-class FID."""

from __future__ import annotations

import math
import warnings

import torch
from torchmetrics.image.inception import InceptionScore

from knowgen.metrics.fid import PrecomputedFeatures, compute_fid


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) over `splits` (Salimans et al. 2016), via torchmetrics, with
    the evaluator's logits in place of Inception's. Repeatable (seeded shuffle)."""
    with warnings.catch_warnings():  # "saves all features in a buffer": intended here
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=PrecomputedFeatures(logits.shape[1]), splits=splits)
    metric.update(logits.float())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        mean, std = metric.compute()
    return float(mean), float(std)


def class_histogram(logits: torch.Tensor, num_classes: int) -> dict[str, object]:
    """Predicted-class counts, how many classes appear (>= 1% of samples) and the normalised
    entropy of the histogram (1 = perfectly balanced, 0 = one class)."""
    counts = torch.bincount(logits.argmax(1), minlength=num_classes).double()
    share = counts / counts.sum()
    nonzero = share[share > 0]
    entropy = float(-(nonzero * nonzero.log()).sum() / math.log(num_classes))
    return {
        "class_counts": [int(c) for c in counts],
        "modes_covered": int((share >= 0.01).sum()),
        "class_entropy": entropy,
    }


def conditional_accuracy(logits: torch.Tensor, given: torch.Tensor) -> float:
    """Share of samples the evaluator assigns to the class they were generated for."""
    return float((logits.argmax(1) == given).double().mean())


def intra_class_fid(
    real: torch.Tensor,
    real_labels: torch.Tensor,
    fake: torch.Tensor,
    fake_labels: torch.Tensor,
) -> dict[int, float]:
    """FID per class between real and fake features of that class (Miyato & Koyama 2018)."""
    scores = {}
    for cls in sorted(set(real_labels.tolist()) & set(fake_labels.tolist())):
        real_c, fake_c = real[real_labels == cls], fake[fake_labels == cls]
        if len(real_c) > 1 and len(fake_c) > 1:
            scores[int(cls)] = compute_fid(real_c, fake_c)
    return scores
