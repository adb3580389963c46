"""Sanity checks pinning the metrics on real data: Fashion-MNIST, a quickly trained evaluator."""

import pytest
import torch
import torch.nn.functional as F

from knowgen.data import DataConfig, load_dataset
from knowgen.metrics.config import EvalConfig
from knowgen.metrics.evaluate import dataset_floor, evaluate_images
from tests.metrics.conftest import FASHION

N = 5000
CFG = EvalConfig(num_samples=N, reference_num=N, kid_subsets=20, kid_subset_size=500)


@pytest.fixture(scope="module")
def train_set():
    return load_dataset(FASHION)


def blurred(images: torch.Tensor) -> torch.Tensor:
    """Half-strength 3x3 box blur."""
    smooth = F.avg_pool2d(F.pad(images.float(), (1, 1, 1, 1), mode="replicate"), 3, 1)
    return ((images.float() + smooth) / 2).round().to(torch.uint8)


def one_class(dataset, cls: int = 3) -> torch.Tensor:
    pool = dataset.images[dataset.labels == cls]
    return pool[torch.randint(0, len(pool), (N,), generator=torch.Generator().manual_seed(0))]


def test_evaluator_classifies_well_above_chance(fashion_evaluator):
    assert fashion_evaluator.test_accuracy > 0.8


def test_identical_sets_have_zero_fid(fashion_evaluator):
    test = load_dataset(DataConfig(split="test")).images[:N]
    scores = evaluate_images(test, FASHION, CFG, fashion_evaluator)
    assert abs(scores["fid"]) < 1e-6 and scores["precision"] == scores["recall"] == 1.0


def test_degradations_are_ranked(fashion_evaluator, train_set):
    images = train_set.images[:N]
    noise = torch.randint(0, 256, images.shape, dtype=torch.uint8)
    fid = {
        name: evaluate_images(sample, FASHION, CFG, fashion_evaluator)["fid"]
        for name, sample in [
            ("train", images),
            ("blur", blurred(images)),
            ("one-class", one_class(train_set)),
            ("noise", noise),
        ]
    }
    assert fid["noise"] > fid["one-class"] > fid["blur"] > fid["train"], fid
    assert fid["train"] < 0.2 * fid["blur"]


def test_train_against_test_is_the_small_floor(fashion_evaluator, train_set):
    floor = dataset_floor(FASHION, CFG, fashion_evaluator)
    blur = evaluate_images(blurred(train_set.images[:N]), FASHION, CFG, fashion_evaluator)
    assert floor["fid"] < 0.2 * blur["fid"]
    assert floor["modes_covered"] == 10 and floor["recall"] > 0.9 and floor["precision"] > 0.9


def test_one_class_set_is_caught_by_recall_and_inception_score(fashion_evaluator, train_set):
    scores = evaluate_images(one_class(train_set), FASHION, CFG, fashion_evaluator)
    assert scores["recall"] < 0.5 and scores["is"] < 2 and scores["class_entropy"] < 0.5


def test_wrong_image_shape_is_a_clear_error(fashion_evaluator):
    with pytest.raises(ValueError, match="cannot be judged by an evaluator trained on"):
        rgb = torch.zeros(20, 3, 8, 8, dtype=torch.uint8)
        evaluate_images(rgb, FASHION, CFG, fashion_evaluator)
