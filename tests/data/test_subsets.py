"""Class subsets and seeded, class-balanced image limits, for every dataset."""

import pytest
import torch

from knowgen.data import DataConfig, load_dataset
from knowgen.data.datasets import load_held_out
from knowgen.data.subsets import balanced_index, class_key, resolve_classes

NAMES = ["t-shirt", "trouser", "ankle-boot"]


def test_classes_by_name_in_any_spelling_or_by_index():
    assert class_key("Ankle boot") == class_key("ankle_boot") == "ankle-boot"
    assert resolve_classes(NAMES, ("ankle boot", 0, "1")) == [2, 0, 1]
    with pytest.raises(ValueError, match="unknown class 'dress'; the classes are 0=t-shirt"):
        resolve_classes(NAMES, ("dress",))
    with pytest.raises(ValueError, match="out of range"):
        resolve_classes(NAMES, (3,))
    with pytest.raises(ValueError, match="named twice"):
        resolve_classes(NAMES, ("trouser", 1))


def test_limit_is_balanced_seeded_and_checked():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    index = balanced_index(labels, 31, len(labels), seed=0)
    assert labels[index].bincount().tolist() == [11, 10, 10]
    assert torch.equal(index, balanced_index(labels, 31, len(labels), seed=0))
    assert not torch.equal(index, balanced_index(labels, 31, len(labels), seed=1))
    with pytest.raises(ValueError, match="asks 25 images of class 2, which has 20"):
        balanced_index(labels, 75, len(labels), seed=0)
    with pytest.raises(ValueError, match="exceeds the 100 images"):
        balanced_index(None, 101, 100, seed=0)
    assert len(balanced_index(None, 7, 100, seed=0).unique()) == 7


def test_dataset_subset_relabels_and_limits_only_the_training_split():
    cfg = DataConfig(name="digits", classes=(7, "3"), limit=40)
    train = load_dataset(cfg)
    assert train.class_names == ["7", "3"] and len(train) == 40
    assert train.labels.bincount().tolist() == [20, 20]
    whole = load_dataset(DataConfig(name="digits"))
    sevens = whole.images[whole.labels == 7]
    assert all(
        (sevens == image).flatten(1).all(1).any() for image in train.images[train.labels == 0]
    )
    test = load_dataset(DataConfig(name="digits", classes=(7, "3"), limit=40, split="test"))
    assert len(test) == int(
        ((test_all := load_dataset(DataConfig(name="digits", split="test")).labels) == 7).sum()
        + (test_all == 3).sum()
    )


def test_held_out_reals_are_the_images_the_limit_left_out():
    cfg = DataConfig(name="digits", classes=(0, 1), limit=30)
    train = load_dataset(cfg)
    held = load_held_out(cfg, 64)
    assert len(held) == 64 and set(held.labels.tolist()) == {0, 1}
    seen = {bytes(image.numpy()) for image in train.images}
    assert not any(bytes(image.numpy()) in seen for image in held.images)
    whole = DataConfig(name="digits")
    assert len(load_held_out(whole, 10_000)) == len(
        load_dataset(DataConfig(name="digits", split="test"))
    )
