"""The evaluators shipped with the package: each matches today's recipe (a changed recipe without a
re-shipped evaluator fails here), stays small, and loads without any training; the slow test
retrains one by the recipe and checks the shipped accuracy is reproduced."""

from __future__ import annotations

import json

import pytest

from knowgen.data import DataConfig
from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR
from knowgen.metrics import evaluator as evaluator_module
from knowgen.metrics.evaluator import (
    SHIPPED_EVALUATORS,
    load_or_train_evaluator,
    recipe_for,
    train_evaluator,
)

SHIPPED = sorted(SHIPPED_EVALUATORS.glob("*.json"))
needs_fashion = pytest.mark.skipif(
    not FASHION_MNIST_DEBIAN_DIR.is_dir(), reason="Fashion-MNIST is not installed"
)


def test_the_fashion_evaluators_are_shipped():
    datasets = {json.loads(p.read_text())["dataset"] for p in SHIPPED}
    assert {"fashion-mnist", "fashion-mnist-color", "shapes", "emoji"} <= datasets


@pytest.mark.parametrize("record_path", SHIPPED, ids=lambda p: p.stem)
def test_each_shipped_evaluator_is_small_current_and_described(record_path):
    record = json.loads(record_path.read_text())
    weights = record_path.with_suffix(".safetensors")
    assert weights.stat().st_size < 5_000_000
    assert record["recipe"] == json.loads(json.dumps(_recipe_dict(record["dataset"])))
    assert recipe_for(record["dataset"]).key() in record_path.stem
    assert record["command"].startswith("knowgen evaluator train ")
    assert 0.5 < record["test_accuracy"] <= 1


def _recipe_dict(dataset: str) -> dict:
    from dataclasses import asdict

    return asdict(recipe_for(dataset))


@needs_fashion
def test_first_evaluation_loads_the_shipped_evaluator_without_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the shipped evaluator should have been used")

    monkeypatch.setattr(evaluator_module, "train_classifier", no_training)
    evaluator = load_or_train_evaluator(DataConfig(name="fashion-mnist"))
    record = json.loads((SHIPPED_EVALUATORS / f"{evaluator.key}.json").read_text())
    assert evaluator.test_accuracy == record["test_accuracy"] > 0.9


@pytest.mark.slow
@needs_fashion
def test_the_recipe_reproduces_the_shipped_accuracy(tmp_path):
    """About 9 minutes on 2 CPU cores: `pytest -m slow`."""
    evaluator, _ = train_evaluator(DataConfig(name="fashion-mnist"), tmp_path)
    shipped = json.loads((SHIPPED_EVALUATORS / f"{evaluator.key}.json").read_text())
    assert evaluator.test_accuracy == pytest.approx(shipped["test_accuracy"], abs=0.01)
