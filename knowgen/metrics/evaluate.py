"""Judge a generator: samples -> evaluator features -> every metric, against a cached real split."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from knowgen.cache import cache_dir, cached, read_tensors, write_tensors
from knowgen.data import DataConfig, load_dataset
from knowgen.knowledge import balanced_classes
from knowgen.knowledge.config import KnowledgeConfig
from knowgen.knowledge.text import TextConditions
from knowgen.metrics.classes import (
    class_histogram,
    conditional_accuracy,
    inception_score,
    intra_class_fid,
)
from knowgen.metrics.config import EvalConfig
from knowgen.metrics.evaluator import Evaluator, load_or_train_evaluator
from knowgen.metrics.features import FeatureSet, extract_features, reference_features
from knowgen.metrics.fid import compute_fid, compute_kid
from knowgen.metrics.prd import precision_recall_density_coverage
from knowgen.sampling import Generator

log = logging.getLogger(__name__)


def score_features(
    real: FeatureSet, fake: FeatureSet, num_classes: int, cfg: EvalConfig
) -> dict[str, Any]:
    """Every unconditional metric of `fake` against `real`, in the evaluator's space."""
    kid_mean, kid_std = compute_kid(
        real.features, fake.features, cfg.kid_subsets, cfg.kid_subset_size
    )
    is_mean, is_std = inception_score(fake.logits)
    scores: dict[str, Any] = {
        "fid": compute_fid(real.features, fake.features),
        "kid": kid_mean,
        "kid_std": kid_std,
        "is": is_mean,
        "is_std": is_std,
    }
    scores |= precision_recall_density_coverage(real.features, fake.features, cfg.prd_k)
    scores |= class_histogram(fake.logits, num_classes)
    return scores


def evaluate_images(
    images: torch.Tensor, data_cfg: DataConfig, cfg: EvalConfig, evaluator: Evaluator | None = None
) -> dict[str, Any]:
    """Metrics of uint8 images (N, C, H, W) against `cfg.split` of the dataset in `data_cfg`."""
    evaluator = evaluator or load_or_train_evaluator(data_cfg)
    real = reference_features(evaluator, data_cfg, cfg.split, cfg.reference_num)
    return score_images(images, real, evaluator, cfg)


def score_conditional(real: FeatureSet, fake: FeatureSet, given: torch.Tensor) -> dict[str, Any]:
    """What a class-conditional generator must also get right: the class asked for (evaluator
    accuracy on the samples) and each class's own distribution (intra-class FID, Miyato & Koyama
    2018), against the real split's labelled features."""
    scores: dict[str, Any] = {"conditional_accuracy": conditional_accuracy(fake.logits, given)}
    per_class = fake.logits.argmax(1)
    scores["per_class_accuracy"] = [
        float((per_class[given == c] == c).double().mean()) if (given == c).any() else None
        for c in range(fake.logits.shape[1])
    ]
    if real.labels is not None:
        fids = intra_class_fid(real.features, real.labels, fake.features, given)
        scores["intra_fid"] = sum(fids.values()) / len(fids) if fids else None
        scores["intra_fid_per_class"] = [fids.get(c) for c in range(fake.logits.shape[1])]
    return scores


def score_images(
    images: torch.Tensor,
    real: FeatureSet,
    evaluator: Evaluator,
    cfg: EvalConfig,
    given: torch.Tensor | None = None,
) -> dict[str, Any]:
    """`score_features` of uint8 images against already extracted real features, with what
    identifies the comparison; `given` (the class each image was generated for) adds the
    conditional metrics."""
    fake = extract_features(evaluator, images)
    scores = score_features(real, fake, len(evaluator.class_names), cfg)
    if given is not None:
        scores |= score_conditional(real, fake, given)
    return scores | comparison(len(images), real, evaluator, cfg)


def comparison(num: int, real: FeatureSet, evaluator: Evaluator, cfg: EvalConfig) -> dict:
    """What identifies a set of scores: how many samples, against what, judged by whom."""
    return {
        "num_samples": num,
        "num_reference": len(real),
        "reference_split": cfg.split,
        "evaluator": evaluator.key,
        "evaluator_test_accuracy": evaluator.test_accuracy,
    }


def evaluate_generator(
    generator: Generator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    evaluator: Evaluator | None = None,
    text: TextConditions | None = None,
    knowledge: KnowledgeConfig | None = None,
) -> dict[str, Any]:
    """Generate `cfg.num_samples` images (seeded) and judge them as the generator's kind of
    conditioning asks (`SCORERS`); adds the time it took. `knowledge` (default: the generator's
    own) says which pairs were held out and at what guidance scale to judge a fusion generator.

    The global RNG is left untouched, so evaluating inside a training run does not change the
    run's trajectory. A text-conditional generator is judged on the captions of `text` (default:
    its run's caption bank, rebuilt).
    """
    evaluator = evaluator or load_or_train_evaluator(data_cfg)
    real = reference_features(evaluator, data_cfg, cfg.split, cfg.reference_num)  # before timing
    knowledge = knowledge or generator.knowledge
    scorer = SCORERS[generator.knowledge.condition]
    with torch.random.fork_rng():
        start = time.perf_counter()
        scores = scorer(generator, real, evaluator, data_cfg, cfg, text, knowledge)
    return scores | {"eval_seconds": time.perf_counter() - start}


def score_generator(
    generator: Generator,
    real: FeatureSet,
    evaluator: Evaluator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    text=None,
    knowledge=None,
) -> dict[str, Any]:
    """An unconditional generator, or a class-conditional one asked for every class equally
    often (then also conditional accuracy and intra-class FID)."""
    num = cfg.num_samples
    given = balanced_classes(num, len(generator.class_names)) if generator.kinds else None
    images = generator.sample(num, seed=cfg.seed).images
    return score_images(images, real, evaluator, cfg, given)


def score_text_generator(
    generator: Generator,
    real: FeatureSet,
    evaluator: Evaluator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    text: TextConditions | None = None,
    knowledge=None,
) -> dict[str, Any]:
    """A text generator judged twice on the same noise: asked for every class equally often in
    training phrasings (every metric, conditional accuracy) and in held-out phrasings that G
    and D never saw (`heldout_*`: accuracy, per-class accuracy, FID). Without classes (a
    captions file) the captions are training captions of random images, and no accuracy."""
    if text is None:
        from knowgen.knowledge.text import text_conditions_of_run

        text = text_conditions_of_run(generator.meta)
    num = cfg.num_samples
    if not text.bank.groups_are_classes:
        rng = torch.Generator().manual_seed(cfg.seed)
        trained = (~text.bank.held_out).nonzero().flatten()
        ids = trained[torch.randint(len(trained), (num,), generator=rng)]
        images = generator.sample(num, cfg.seed, text=text.conditions(ids)["text"]).images
        return score_images(images, real, evaluator, cfg)
    given = balanced_classes(num, text.bank.num_groups)
    seen = text.for_classes(given, held_out=False, seed=cfg.seed)
    images = generator.sample(num, cfg.seed, text=seen["text"]).images
    scores = score_images(images, real, evaluator, cfg, given)
    unseen = text.ids_for_classes(given, held_out=True, seed=cfg.seed)
    held_images = generator.sample(num, cfg.seed, text=text.conditions(unseen)["text"]).images
    held = extract_features(evaluator, held_images)
    held_scores = score_conditional(real, held, given)
    scores["heldout_conditional_accuracy"] = held_scores["conditional_accuracy"]
    scores["heldout_per_class_accuracy"] = held_scores["per_class_accuracy"]
    scores["heldout_fid"] = compute_fid(real.features, held.features)
    # which kind of novelty failed: a word never trained on, or only an unseen sentence frame
    correct = held.logits.argmax(1) == given
    word = text.bank.unseen_word[unseen.cpu()]
    scores |= accuracy_by_novelty(correct, word)
    if generator.grounder is not None:  # the same held-out phrasings, as prompts: grounded
        prompts = [text.bank.captions[i] for i in unseen.tolist()]
        grounded = generator.sample(num, cfg.seed, text=prompts).images
        right = extract_features(evaluator, grounded).logits.argmax(1) == given
        scores["heldout_grounded_accuracy"] = float(right.double().mean())
        scores |= accuracy_by_novelty(right, word, "_grounded")
    return scores


def accuracy_by_novelty(right: torch.Tensor, word: torch.Tensor, suffix: str = "") -> dict:
    """Held-out accuracy split by what is new: a word never trained on, or only the frame."""
    return {
        f"heldout_{key}_accuracy{suffix}": float(right[mask].double().mean())
        if mask.any()
        else None
        for key, mask in (("word", word), ("template", ~word))
    }


def score_fusion(
    generator: Generator,
    real: FeatureSet,
    evaluator: Evaluator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    text=None,
    knowledge=None,
) -> dict[str, Any]:
    """Per-kind, joint, each-kind-alone and held-out-pair scores (`metrics.fusion`)."""
    from knowgen.metrics.fusion import score_fusion_generator

    classes = len(evaluator.class_names)
    unconditional = lambda real, fake: score_features(real, fake, classes, cfg)  # noqa: E731
    scores = score_fusion_generator(
        generator, data_cfg, cfg, evaluator, real, unconditional, knowledge
    )
    return scores | comparison(cfg.num_samples, real, evaluator, cfg)


# how each kind of conditioning (`knowledge.condition`) is judged
SCORERS = {
    "none": score_generator,
    "class": score_generator,
    "text": score_text_generator,
    "fusion": score_fusion,
}


def dataset_floor(data_cfg: DataConfig, cfg: EvalConfig, evaluator: Evaluator) -> dict[str, Any]:
    """The dataset's own floor: real train images judged as if generated, against the test split."""
    train_feats = reference_features(evaluator, data_cfg, "train", cfg.num_samples)
    test_feats = reference_features(evaluator, data_cfg, "test", cfg.reference_num)
    return score_features(test_feats, train_feats, len(evaluator.class_names), cfg)


def has_labels(data_cfg: DataConfig) -> bool:
    """Whether the dataset's images carry classes (every built-in set does; a folder does when
    its images sit in class sub-folders)."""
    return data_cfg.name != "folder" or load_dataset(data_cfg).labels is not None


def evaluate_inception(
    generator: Generator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    weights: str | Path,
    convention: str = "tf1",
) -> dict[str, Any]:
    """FID, KID and precision/recall/density/coverage of `cfg.num_samples` samples against the
    real split, in the features of the standard FID Inception-v3 (`weights`, the user's file):
    the metrics that need no labels, so they judge unlabelled folders too.

    The real split's Inception features are cached, keyed by the weights file's hash and the
    data (a folder by its path, a class subset by its classes). `convention` is how images are
    resized to 299 px and scaled: "tf1" as the original TF FID graph and torch-fidelity (and
    torchmetrics) do, or "pytorch-fid" (see `knowgen.metrics.inception.CONVENTIONS`).
    """
    from knowgen.metrics.inception import inception_features, load_inception

    net = load_inception(weights, convention)
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:12]
    source = f"{data_cfg.source_key}{replace(data_cfg, limit=None).subset_tag}"
    tag = f"inception-{digest}-{convention}-{source}-{cfg.split}-{cfg.reference_num or 'all'}"

    def build() -> torch.Tensor:
        dataset = load_dataset(replace(data_cfg, split=cfg.split, limit=None))
        features = inception_features(net, dataset.images[: cfg.reference_num])
        write_tensors(cache, {"features": features})
        return features

    cache = cache_dir("references") / f"{tag}.safetensors"
    real = cached(cache, lambda path: read_tensors(path)["features"], build, "Inception features")
    start = time.perf_counter()
    with torch.random.fork_rng():
        fake = inception_features(net, generator.sample(cfg.num_samples, cfg.seed).images)
    kid, kid_std = compute_kid(real, fake, cfg.kid_subsets, cfg.kid_subset_size)
    scores = {"fid": compute_fid(real, fake), "kid": kid, "kid_std": kid_std}
    scores |= precision_recall_density_coverage(real, fake, cfg.prd_k)
    scores = {f"inception_{k}": v for k, v in scores.items()}
    return scores | {
        "inception_convention": convention,
        "num_samples": cfg.num_samples,
        "num_reference": len(real),
        "reference_split": cfg.split,
        "inception_seconds": time.perf_counter() - start,
    }
