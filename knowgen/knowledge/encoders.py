"""The `KnowledgeEncoder` interface and its first implementation, the class encoder.

A condition batch is a dict of tensors keyed by kind (`{"class": LongTensor (B,)}` today; text,
attributes and structure later). An encoder turns it into `Knowledge`: tokens (B, T, d) for
attention over the parts of a condition, and one pooled vector (B, d) for FiLM/conditional
BatchNorm in G and the projection term in D. Unconditional models pass no conditions at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

Conditions = dict[str, torch.Tensor]


@dataclass
class Knowledge:
    """What a network reads from the conditions: tokens (B, T, d) and pooled (B, d)."""

    tokens: torch.Tensor
    pooled: torch.Tensor


class KnowledgeEncoder(nn.Module):
    """Conditions -> `Knowledge`. Subclasses set `dim` (d) and `key` (the condition they read)."""

    dim: int
    key: str

    def forward(self, conditions: Conditions) -> Knowledge:  # pragma: no cover - interface
        raise NotImplementedError

    def placeholder(self, batch: int) -> Conditions:  # pragma: no cover - interface
        """Neutral conditions for `batch` images (see `placeholder_conditions`)."""
        raise NotImplementedError

    def read(self, conditions: Conditions | None) -> torch.Tensor:
        """This encoder's entry of `conditions`, or a clear error naming what is missing."""
        if conditions is None or self.key not in conditions:
            given = sorted(conditions) if conditions else []
            raise ValueError(
                f"this model is conditioned on {self.key!r}; pass conditions={{'{self.key}': ...}}"
                f" (got {given})"
            )
        return conditions[self.key]


class ClassEncoder(KnowledgeEncoder):
    """Object classes -> one learned embedding each (one token; pooled = that token)."""

    key = "class"

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError("a class encoder needs a dataset with labels (num_classes >= 1)")
        self.num_classes = num_classes
        self.dim = dim
        self.table = nn.Embedding(num_classes, dim)
        nn.init.normal_(self.table.weight, 0.0, 1.0 / dim**0.5)

    def forward(self, conditions: Conditions) -> Knowledge:
        labels = self.read(conditions)
        if labels.dtype not in (torch.int64, torch.int32) or labels.ndim != 1:
            raise ValueError(f"class conditions must be integer labels (B,), got {labels.dtype}")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"class labels must lie in [0, {self.num_classes - 1}]")
        pooled = self.table(labels)
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        return {"class": torch.zeros(batch, dtype=torch.long)}


def balanced_classes(num: int, num_classes: int) -> torch.Tensor:
    """Labels 0, 1, ..., K-1, 0, 1, ... for `num` samples: every class equally often, in a fixed
    order, so an evaluation and a grid know which class each sample was asked to be."""
    return torch.arange(num) % num_classes


def placeholder_conditions(network: nn.Module, batch: int) -> Conditions | None:
    """Neutral conditions (class 0, a zero text embedding) for every image of a conditional
    network, None for an unconditional one: for passes whose result does not depend on the
    condition, such as D's trunk features and their size."""
    encoder = getattr(network, "encoder", None)
    if isinstance(encoder, KnowledgeEncoder):
        return encoder.placeholder(batch)
    if getattr(network, "num_classes", 0):  # networks with several class encoders
        return {"class": torch.zeros(batch, dtype=torch.long)}
    return None


def class_index(name_or_index: str | int, class_names: list[str]) -> int:
    """A class given by name (case-insensitive) or index -> its index; an unknown one is an error
    listing the valid names."""
    if not class_names:
        raise ValueError("this generator was not trained with classes")
    text = str(name_or_index).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if 0 <= index < len(class_names):
            return index
        raise ValueError(f"class index {index} out of range 0..{len(class_names) - 1}")
    lowered = [name.lower() for name in class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    raise ValueError(f"unknown class {text!r}; choose from {', '.join(class_names)}")
