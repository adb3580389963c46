"""`Conditions` (the knowledge of a batch), the `KnowledgeEncoder` interface and its first
implementation, the class encoder.

An encoder turns `Conditions` into `Knowledge`: tokens (B, T, d) for attention over the parts of
a condition, and one pooled vector (B, d) for FiLM/conditional BatchNorm in G and the projection
term in D. Unconditional models pass no conditions at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Conditions:
    """The knowledge of a batch of B images: a tensor per kind (`values`, keyed by kind name,
    B rows each), which images are given each kind (`given`: (B,) bool per kind; a kind without
    a mask is given to every image that has its value) and, when sampling, the guidance scale
    per image (`guidance`, (B,)). Values read like a mapping: `cond["class"]`, `"hue" in cond`.
    """

    values: dict[str, torch.Tensor]
    given: dict[str, torch.Tensor] = field(default_factory=dict)
    guidance: torch.Tensor | None = None

    def __getitem__(self, kind: str) -> torch.Tensor:
        return self.values[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self.values

    def __len__(self) -> int:
        """The batch size B."""
        return len(next(iter(self.values.values()))) if self.values else 0

    def get(self, kind: str, default: torch.Tensor | None = None) -> torch.Tensor | None:
        return self.values.get(kind, default)

    def keys(self) -> Iterable[str]:
        return self.values.keys()

    def items(self) -> Iterable[tuple[str, torch.Tensor]]:
        return self.values.items()

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Conditions:
        """`fn` applied to every tensor (a slice of the batch, a device move, a rank's shard)."""
        return Conditions(
            {k: fn(v) for k, v in self.values.items()},
            {k: fn(v) for k, v in self.given.items()},
            None if self.guidance is None else fn(self.guidance),
        )

    def only(self, kinds: Iterable[str]) -> Conditions:
        """The same knowledge restricted to `kinds` (what a network of those kinds reads)."""
        kinds = set(kinds)
        values = {k: v for k, v in self.values.items() if k in kinds}
        given = {k: v for k, v in self.given.items() if k in kinds}
        return Conditions(values, given, self.guidance)

    def is_given(self, kind: str, batch: int, device) -> torch.Tensor:
        """Which images are given `kind` (B,): its mask, all if it has a value but no mask,
        none if it has no value."""
        if kind not in self.values:
            return torch.zeros(batch, dtype=torch.bool, device=device)
        mask = self.given.get(kind)
        return torch.ones(batch, dtype=torch.bool, device=device) if mask is None else mask.bool()


def as_conditions(conditions: Conditions | Mapping[str, torch.Tensor] | None) -> Conditions:
    """`Conditions` from a plain {kind: tensor} mapping (every kind given), or unchanged."""
    if isinstance(conditions, Conditions):
        return conditions
    return Conditions(dict(conditions or {}))


@dataclass
class Knowledge:
    """What a network reads from the conditions: tokens (B, T, d) and pooled (B, d)."""

    tokens: torch.Tensor
    pooled: torch.Tensor


class KnowledgeEncoder(nn.Module):
    """Conditions -> `Knowledge`. Subclasses set `dim` (d) and `key` (the condition they read)."""

    dim: int
    key: str
    num_classes: int = 0  # classes it reads (a class encoder, or fused knowledge with classes)

    def forward(self, conditions: Conditions) -> Knowledge:  # pragma: no cover - interface
        raise NotImplementedError

    def placeholder(self, batch: int) -> Conditions:  # pragma: no cover - interface
        """Neutral conditions for `batch` images (see `placeholder_conditions`)."""
        raise NotImplementedError

    def read(self, conditions: Conditions | Mapping | None) -> torch.Tensor:
        """This encoder's entry of `conditions`, or a clear error naming what is missing."""
        if conditions is None or self.key not in conditions:
            given = sorted(conditions.keys()) if conditions else []
            raise ValueError(
                f"this model is conditioned on {self.key!r}; pass conditions={{'{self.key}': ...}}"
                f" (got {given})"
            )
        return conditions[self.key]


class ClassEncoder(KnowledgeEncoder):
    """Object classes -> one learned embedding each (one token; pooled = that token)."""

    key = "class"

    def __init__(self, num_classes: int, dim: int, key: str = "class") -> None:
        super().__init__()
        self.key = key  # the same table serves any categorical kind (a style)
        if num_classes < 1:
            raise ValueError("a class encoder needs a dataset with labels (num_classes >= 1)")
        self.num_classes = num_classes
        self.dim = dim
        self.table = nn.Embedding(num_classes, dim)
        nn.init.normal_(self.table.weight, 0.0, 1.0 / dim**0.5)

    def forward(self, conditions: Conditions) -> Knowledge:
        labels = self.read(conditions)
        if labels.dtype not in (torch.int64, torch.int32) or labels.ndim != 1:
            raise ValueError(
                f"{self.key} conditions must be integer labels (B,), got {labels.dtype}"
            )
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"{self.key} labels must lie in [0, {self.num_classes - 1}]")
        pooled = self.table(labels)
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        return Conditions({self.key: torch.zeros(batch, dtype=torch.long)})


def balanced_classes(num: int, num_classes: int) -> torch.Tensor:
    """Labels 0, 1, ..., K-1, 0, 1, ... for `num` samples: every class equally often, in a fixed
    order, so an evaluation and a grid know which class each sample was asked to be."""
    return torch.arange(num) % num_classes


def placeholder_conditions(network: nn.Module, batch: int) -> Conditions | None:
    """Neutral conditions (class 0, a zero text embedding) for every image of a conditional
    network, None for an unconditional one: for passes whose result does not depend on the
    condition, such as D's trunk features and their size."""
    if network.encoder is not None:
        return network.encoder.placeholder(batch)
    if network.num_classes:  # networks with several class encoders (a projected D)
        return Conditions({"class": torch.zeros(batch, dtype=torch.long)})
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
