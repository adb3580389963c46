"""What every kind of knowledge shares: the contract (`Kind`), what parsing may know about the
model (`KindContext`), the error a person sees, and the helpers that read one value or one per
image. Kept apart from the kinds themselves so that `kinds.py` and `word_kinds.py` both build on
it without importing each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from knowgen.knowledge.encoders import KnowledgeEncoder

HUE_BINS = ["red", "yellow", "green", "cyan", "blue", "magenta"]  # 60 degrees each, red at 0


class KnowledgeError(ValueError):
    """Knowledge that a model cannot take: names what was given and what the model accepts."""


@dataclass(frozen=True)
class KindContext:
    """What parsing and encoding a kind may need to know about the model and its data."""

    class_names: tuple[str, ...] = ()
    image_side: int = 28
    text_model: str = "all-MiniLM-L6-v2"
    text_dim: int = 384
    text_noise: float = 0.0
    num_classes: int | None = None  # classes the networks take (default: len(class_names))
    rewrite_text: Callable[[str], str] | None = None  # e.g. WordNet grounding of unseen words
    anchor_text: Callable[[torch.Tensor], torch.Tensor] | None = None  # prompt -> trained phrasing
    dataset: str = ""  # the dataset's name (which WordNet synsets its classes are)

    @property
    def classes(self) -> int:
        return len(self.class_names) if self.num_classes is None else self.num_classes


class Kind(Protocol):
    """The contract every kind of knowledge keeps (see DESIGN.md, "One way to give knowledge")."""

    name: str

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        """A person's value (one for all `num` images, or a list of `num`) -> encoder input."""
        ...

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        """The trainable encoder of this kind into a network of width `dim`."""
        ...

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        """This kind's value for every image of `dataset` (N, ...), or a clear error."""
        ...


def hue_bin(hue: torch.Tensor) -> torch.Tensor:
    """Which of the six named 60-degree colour bins (centred on red, yellow, ...) each hue is."""
    return ((hue * 6 + 0.5).floor() % 6).long()


def per_image(value: Any, num: int, kind: str) -> list:
    """One value for every image, or a list/tuple of exactly `num` values -> a list of `num`."""
    if isinstance(value, list | tuple) and not _is_point(value):
        if len(value) != num:
            raise KnowledgeError(f"{kind}: got {len(value)} values for {num} images")
        return list(value)
    return [value] * num


def _is_point(value: Sequence) -> bool:
    """(x, y) given for a position is one value, not a list of two images' values."""
    return len(value) == 2 and all(isinstance(v, int | float) for v in value)


def as_given(value: Any, num: int, shape: tuple[int, ...], kind: str) -> torch.Tensor | None:
    """A tensor already in the encoder's form (num, *shape) passes through unchanged."""
    if isinstance(value, torch.Tensor) and value.ndim == len(shape) + 1:
        if len(value) != num or tuple(value.shape[1:]) != shape:
            want = (num, *shape)
            raise KnowledgeError(f"{kind}: expected a tensor {want}, got {tuple(value.shape)}")
        return value
    return None
