"""Stand-in data for any preset, made from scikit-learn's bundled digits: no download and no
Debian package, so a check runs on any machine (a GPU box with no data installed included)."""

from __future__ import annotations

import torch

from knowgen.data import DataConfig, load_dataset
from knowgen.data.color import tint
from knowgen.data.datasets import FASHION_MNIST_CLASSES, Dataset, resize_uint8
from knowgen.data.shapes import SHAPES


def standin_dataset(data_name: str, count: int = 256, side: int | None = None) -> Dataset:
    """`count` digits (at most 1,797) standing in for the preset's data `data_name`: resized to
    its side (emoji: `side`, default 32), named with its classes, tinted and given its known
    factors (and, for emoji, a style and a name) where the preset reads them."""
    digits = load_dataset(DataConfig(name="digits"))
    if data_name == "emoji":
        return _emoji_standin(digits, count, side or 32)
    side = 32 if data_name == "shapes" else 28
    grey = resize_uint8(digits.images[:count], side)
    factors = torch.Generator().manual_seed(5)
    hue = torch.rand(len(grey), generator=factors)
    if data_name == "shapes":
        labels = digits.labels[:count] % len(SHAPES)
        attributes = {"hue": hue}
        for name in ("size", "rotation", "x", "y"):
            attributes[name] = torch.rand(len(grey), generator=factors)
        return Dataset(tint(grey, hue, torch.full_like(hue, 0.8)), labels, list(SHAPES), "shapes",
                       attributes=attributes)  # fmt: skip
    labels = digits.labels[:count]
    names = list(FASHION_MNIST_CLASSES)
    if data_name == "fashion-mnist-color":
        colored = tint(grey, hue, torch.full_like(hue, 0.8))
        return Dataset(colored, labels, names, data_name, attributes={"hue": hue})
    return Dataset(grey, labels, names, "fashion-mnist")


def _emoji_standin(digits: Dataset, count: int, side: int) -> Dataset:
    """Digits as emoji: tinted RGB at `side`, a group per digit, a style per image, and a name
    per group (few distinct names: a text preset embeds each once)."""
    from knowgen.data.emoji import GROUPS

    grey = resize_uint8(digits.images[:count], side)
    factors = torch.Generator().manual_seed(5)
    hue = torch.rand(len(grey), generator=factors)
    labels = digits.labels[:count] % len(GROUPS)
    style = torch.randint(2, (len(grey),), generator=factors)
    names = [f"{GROUPS[k].lower()} number {k}" for k in labels.tolist()]
    return Dataset(tint(grey, hue, torch.full_like(hue, 0.8)), labels, list(GROUPS), "emoji",
                   attributes={"style": style}, descriptions=names)  # fmt: skip
