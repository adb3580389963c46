"""The Classification Accuracy Score (Ravuri & Vinyals 2019): how much of what a classifier needs
the generated images carry. A classifier is trained on generated images only and tested on the
real test split; the same recipe trained on as many real training images gives the ceiling.

FID says whether generated images *look* like the data; CAS says whether they can *replace* it
as training data: the knowledge a generator holds, measured by what another network can learn
from it. A class-conditional generator is asked for every class equally often (its labels are
what it was asked for); an unconditional one is labelled by the evaluator.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch

from knowgen.data import DataConfig, Dataset, load_dataset
from knowgen.data.subsets import balanced_index
from knowgen.knowledge import balanced_classes
from knowgen.metrics.classifier_training import classifier_accuracy, train_classifier
from knowgen.metrics.evaluator import (
    Evaluator,
    load_or_train_classifier,
    load_or_train_evaluator,
    recipe_for,
    seeded_classifier,
)
from knowgen.metrics.features import extract_features
from knowgen.sampling import Generator

CAS_EPOCHS = 5  # the evaluator's architecture, trained briefly: ~1 CPU minute on 10,000 images


def classification_accuracy_score(
    generator: Generator,
    data_cfg: DataConfig,
    num: int,
    seed: int = 0,
    evaluator: Evaluator | None = None,
) -> dict[str, Any]:
    """CAS of `num` generated images and, beside it, the accuracy of the same recipe trained on
    `num` real training images (seeded, class-balanced; cached), both on the real test split of
    the run's classes. Leaves the global RNG untouched."""
    classes = generator.class_names
    if not classes:
        raise ValueError("CAS needs a dataset with classes; this generator knows none")
    recipe = replace(recipe_for(data_cfg.name), epochs=CAS_EPOCHS)
    test = load_dataset(replace(data_cfg, split="test", limit=None))
    start = time.perf_counter()
    with torch.random.fork_rng():
        if "class" in generator.kinds:
            labels = balanced_classes(num, len(classes))
            images = generator.sample(num, seed, class_=labels).images
        elif not generator.kinds:
            images = generator.sample(num, seed).images
            judge = evaluator or load_or_train_evaluator(data_cfg)
            labels = extract_features(judge, images).logits.argmax(1)
        else:
            raise ValueError(
                "CAS judges class-conditional and unconditional generators; this one takes "
                f"{', '.join(generator.kinds)}"
            )
        generated = Dataset(images, labels, list(classes))
        net = seeded_classifier(generated.image_shape, len(classes), recipe)
        train_classifier(net, generated, recipe, desc="CAS classifier")
        cas = classifier_accuracy(net, test)
        real_accuracy = _real_accuracy(data_cfg, num, recipe, test)
    return {
        "cas": cas,
        "cas_real": real_accuracy,
        "cas_num_images": num,
        "cas_seconds": time.perf_counter() - start,
    }


def _real_accuracy(data_cfg: DataConfig, num: int, recipe, test: Dataset) -> float:
    """The same recipe trained on `num` real training images of the run's classes (cached)."""
    real = load_dataset(replace(data_cfg, split="train", limit=None))
    if num < len(real):
        real = real.subset(balanced_index(real.labels, num, len(real), seed=0))
    net = seeded_classifier(real.image_shape, len(real.class_names), recipe)
    key = f"cas-real-{data_cfg.source_key}{replace(data_cfg, limit=None).subset_tag}"
    key += f"-{'x'.join(map(str, real.image_shape))}-{len(real)}-{recipe.key()}"
    record = load_or_train_classifier(
        net, key, "cas", real, lambda: test, recipe, {"role": "CAS ceiling (real images)"}
    )
    return float(record["test_accuracy"])
