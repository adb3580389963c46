"""The in-memory dataset every loader returns (its own module, so that loaders such as
`data.folder` and the registry of `data.datasets` both import it without a cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Dataset:
    """Images as one uint8 tensor (N, C, H, W) with optional integer labels and class names."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    name: str = ""
    files: list[str] = field(default_factory=list)  # folder: each image's path, relative
    attributes: dict[str, torch.Tensor] = field(default_factory=dict)  # known factors, (N,) each
    descriptions: list[str] = field(default_factory=list)  # each image's own words (emoji names)

    def subset(self, index: torch.Tensor) -> Dataset:
        """The images at `index` (with their labels, paths and attributes)."""
        labels = self.labels[index] if self.labels is not None else None
        files = [self.files[i] for i in index.tolist()] if self.files else []
        attributes = {k: v[index] for k, v in self.attributes.items()}
        words = [self.descriptions[i] for i in index.tolist()] if self.descriptions else []
        return Dataset(
            self.images[index], labels, self.class_names, self.name, files, attributes, words
        )

    def __post_init__(self) -> None:
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4
        assert self.labels is None or len(self.labels) == len(self.images)
        assert not self.descriptions or len(self.descriptions) == len(self.images)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)
