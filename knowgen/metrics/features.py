"""Evaluator features and logits of image sets, and the cached ones of real data splits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from knowgen.cache import cache_dir, cached, read_tensors, write_tensors
from knowgen.data import DataConfig, Dataset, load_dataset
from knowgen.images import to_float
from knowgen.metrics.evaluator import Evaluator

log = logging.getLogger(__name__)


@dataclass
class FeatureSet:
    """Evaluator outputs of N images: penultimate features (N, F) and class logits (N, K)."""

    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor | None = None  # the given classes, when known

    def __len__(self) -> int:
        return len(self.features)


@torch.no_grad()
def extract_features(
    evaluator: Evaluator, images: torch.Tensor, batch_size: int = 1000
) -> FeatureSet:
    """uint8 images (N, C, H, W) -> `FeatureSet` (float64 features for stable covariances)."""
    if tuple(images.shape[1:]) != tuple(evaluator.image_shape):
        raise ValueError(
            f"images of shape {tuple(images.shape[1:])} cannot be judged by an evaluator "
            f"trained on {tuple(evaluator.image_shape)}"
        )
    evaluator.net.eval()
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        f, lg = evaluator.net.forward_features(to_float(images[start : start + batch_size]))
        features.append(f.double())
        logits.append(lg.double())
    all_logits = torch.cat(logits)
    if evaluator.columns is not None:
        all_logits = all_logits[:, evaluator.columns]
    return FeatureSet(torch.cat(features), all_logits)


def reference_features(
    evaluator: Evaluator, data_cfg: DataConfig, split: str, num: int | None = None
) -> FeatureSet:
    """Features of the first `num` images of a real split (all when None; of the configured
    classes, never limited to `data.limit`), cached on disk."""
    # the classes are in the (restricted) evaluator's key, `limit` never applies; any other
    # filter of the images (emoji styles) names its own reference
    other_filters = replace(data_cfg, classes=None, limit=None).subset_tag
    tag = f"{evaluator.key}-{split}-{num or 'all'}{other_filters}"
    path = cache_dir("references") / f"{tag}.safetensors"

    def read(path: Path) -> FeatureSet:
        saved = read_tensors(path)
        return FeatureSet(saved["features"], saved["logits"], saved.get("labels"))

    def build() -> FeatureSet:
        dataset: Dataset = load_dataset(replace(data_cfg, split=split, limit=None))
        images = dataset.images[:num] if num else dataset.images
        feats = extract_features(evaluator, images)
        if dataset.labels is not None:
            feats.labels = dataset.labels[: len(images)].clone()
        tensors = {"features": feats.features, "logits": feats.logits}
        write_tensors(
            path, tensors | ({"labels": feats.labels} if feats.labels is not None else {})
        )
        return feats

    return cached(path, read, build, "reference features")
