import math

import pytest
import torch

from knowgen.metrics.classes import (
    class_histogram,
    conditional_accuracy,
    inception_score,
    intra_class_fid,
)


def confident_logits(classes: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(classes, num_classes).double() * 50


def test_inception_score_is_the_number_of_balanced_confident_classes():
    balanced = confident_logits(torch.arange(1000) % 10)
    assert inception_score(balanced, splits=1)[0] == pytest.approx(10, rel=1e-3)
    one_class = confident_logits(torch.zeros(1000, dtype=torch.long))
    assert inception_score(one_class, splits=1)[0] == pytest.approx(1, rel=1e-3)


def test_class_histogram_counts_modes_and_entropy():
    stats = class_histogram(confident_logits(torch.tensor([0, 0, 1, 1])), 4)
    assert stats["class_counts"] == [2, 2, 0, 0] and stats["modes_covered"] == 2
    assert stats["class_entropy"] == pytest.approx(math.log(2) / math.log(4))


def test_conditional_accuracy_and_intra_class_fid():
    given = torch.tensor([0, 1, 2, 2])
    assert conditional_accuracy(confident_logits(torch.tensor([0, 1, 2, 0])), given) == 0.75
    real = torch.randn(400, 3, dtype=torch.float64)
    labels = torch.arange(400) % 2
    scores = intra_class_fid(real, labels, real + (labels[:, None] == 1) * 2.0, labels)
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] == pytest.approx(12.0, rel=1e-6)
