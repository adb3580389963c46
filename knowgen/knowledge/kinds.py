"""Kinds of knowledge: each one class that knows everything about its kind, in one registry.

A kind turns what a person gives (a class name, "#c0392b", a silhouette image, a sentence,
a size) into the tensor its encoder reads (`parse`), builds that encoder (`encoder`), and reads
the same knowledge off real training images (`column`). Everything outside `knowgen/knowledge/`
iterates over `KINDS` (or a model's kinds) instead of branching on a kind's name, so adding a
kind is one class here and one registry line.

The hue is circular, so it has its own encoder; size, rotation and position are plain values in
[0, 1) (`AttributeEncoder`); structure is a 7x7 occupancy mask with one token per cell. The
kinds given in words (text, WordNet concepts) are in `word_kinds.py`, what all kinds share in
`kind_base.py`.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from knowgen.knowledge.encoders import (
    ClassEncoder,
    Conditions,
    Knowledge,
    KnowledgeEncoder,
    class_index,
)
from knowgen.knowledge.kind_base import (  # noqa: F401 - re-exported: the kinds' public parts
    HUE_BINS,
    Kind,
    KindContext,
    KnowledgeError,
    as_given,
    hue_bin,
    per_image,
)
from knowgen.knowledge.word_kinds import (  # noqa: F401 - re-exported
    ConceptEncoder,
    ConceptKind,
    TextKind,
    describe_images,
)

MAX_STRUCTURE_PIXELS = 4096 * 4096  # a silhouette image larger than this is refused


class ClassKind:
    """Object classes, given by name (case-insensitive) or index."""

    name = "class"

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        given = as_given(value, num, (), "class")
        if given is not None:
            return given.long()
        names = list(context.class_names)
        try:
            return torch.tensor([class_index(v, names) for v in per_image(value, num, "class")])
        except ValueError as err:
            raise KnowledgeError(str(err)) from None

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        return ClassEncoder(context.classes, dim)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        if dataset.labels is None:
            raise ValueError("knowledge kind 'class' needs a dataset with labels")
        return dataset.labels


class StyleKind:
    """Who drew the image (emoji: google = Noto, twitter = Twemoji): a category of its own, so
    that the same object can be asked for in either style, by name or index."""

    name = "style"

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        from knowgen.data.emoji import STYLES

        given = as_given(value, num, (), "style")
        if given is not None:
            return given.long()
        try:
            return torch.tensor(
                [class_index(v, list(STYLES)) for v in per_image(value, num, "style")]
            )
        except ValueError:
            raise KnowledgeError(f"style {value!r}: choose {' or '.join(STYLES)}") from None

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        from knowgen.data.emoji import STYLES

        return ClassEncoder(len(STYLES), dim, key="style")

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        if "style" not in dataset.attributes:
            raise ValueError(
                f"knowledge kind 'style' needs images drawn in known styles, which dataset "
                f"{dataset.name!r} lacks; use data.name='emoji'"
            )
        return dataset.attributes["style"]


def styles_of(generator) -> tuple[str, ...]:
    """The styles a generator can be asked for (none unless it takes the style kind)."""
    from knowgen.data.emoji import STYLES

    return STYLES if "style" in generator.kinds else ()


def parse_color(value: Any) -> float:
    """A hue in [0, 1) from "#rrggbb", one of the six colour names, or a number in [0, 1)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value <= 1:
            raise KnowledgeError(f"color {value}: a hue number must lie in [0, 1]")
        return float(value) % 1.0
    name = str(value).strip().lower()
    if name in HUE_BINS:
        return HUE_BINS.index(name) / len(HUE_BINS)
    digits = name.removeprefix("#")
    if len(digits) != 6 or any(c not in "0123456789abcdef" for c in digits):
        raise KnowledgeError(f"color {value!r}: give #rrggbb or one of {', '.join(HUE_BINS)}")
    r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, saturation, _ = colorsys.rgb_to_hsv(r, g, b)
    if saturation < 0.1:
        raise KnowledgeError(f"color {value!r} is grey: it has no hue to follow")
    return hue


class HueEncoder(KnowledgeEncoder):
    """A hue in [0, 1) -> its point (cos, sin) on the colour circle -> MLP -> one token."""

    key = "hue"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(2, dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def forward(self, conditions: Conditions) -> Knowledge:
        angle = 2 * math.pi * self.read(conditions).float()
        pooled = self.net(torch.stack([angle.cos(), angle.sin()], dim=1))
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        return Conditions({"hue": torch.zeros(batch)})


class HueKind:
    """Colour as knowledge: a hue angle, given as "#c0392b", "red" or a number in [0, 1)."""

    name = "hue"

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        given = as_given(value, num, (), "color")
        if given is not None:
            return given.float()
        return torch.tensor([parse_color(v) for v in per_image(value, num, "color")])

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        return HueEncoder(dim)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        if "hue" not in dataset.attributes:
            raise ValueError(
                f"knowledge kind 'hue' needs hues, which dataset {dataset.name!r} lacks; use "
                "data.name='fashion-mnist-color' or 'shapes'"
            )
        return dataset.attributes["hue"]


class AttributeEncoder(KnowledgeEncoder):
    """Continuous attribute values in [0, 1) (B,) or (B, k) -> MLP -> one token. The hue has
    its own encoder because it is circular; a size or a rotation is not."""

    def __init__(self, key: str, width: int, dim: int) -> None:
        super().__init__()
        self.key = key
        self.width = width
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(width, dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def forward(self, conditions: Conditions) -> Knowledge:
        values = self.read(conditions).float()
        values = values.reshape(len(values), -1)
        if values.shape[1] != self.width:
            raise ValueError(
                f"{self.key} needs {self.width} value(s) per image, got {values.shape[1]}"
            )
        pooled = self.net(2 * values - 1)
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        shape = (batch,) if self.width == 1 else (batch, self.width)
        return Conditions({self.key: torch.full(shape, 0.5)})


class AttributeKind:
    """A continuous factor a dataset knows (`shapes`): values in [0, 1], one per attribute it
    reads (position reads x and y)."""

    def __init__(self, name: str, attributes: tuple[str, ...]) -> None:
        self.name = name
        self.attributes = attributes

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        width = len(self.attributes)
        given = as_given(value, num, () if width == 1 else (width,), self.name)
        if given is not None:
            return given.float()
        rows = []
        for item in per_image(value, num, self.name):
            try:
                values = [float(v) for v in (item if isinstance(item, list | tuple) else [item])]
            except (TypeError, ValueError):
                raise KnowledgeError(f"{self.name} {item!r}: give number(s) in [0, 1]") from None
            if len(values) != width or not all(0 <= v <= 1 for v in values):
                raise KnowledgeError(
                    f"{self.name} {item!r}: takes {width} value(s) in [0, 1] "
                    f"({', '.join(self.attributes)})"
                )
            rows.append(values[0] if width == 1 else values)
        return torch.tensor(rows)

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        return AttributeEncoder(self.name, len(self.attributes), dim)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        missing = [n for n in self.attributes if n not in dataset.attributes]
        if missing:
            raise ValueError(
                f"knowledge kind {self.name!r} needs the {missing} attribute(s), which dataset "
                f"{dataset.name!r} lacks; use data.name='shapes'"
            )
        values = torch.stack([dataset.attributes[n] for n in self.attributes], dim=1)
        return values[:, 0] if len(self.attributes) == 1 else values


class StructureEncoder(KnowledgeEncoder):
    """An occupancy mask (B, 1, g, g) -> small CNN -> one token per cell (B, g*g, d) carrying
    its position; pooled = a linear map of all the tokens in order. (Their mean would keep how
    much the object covers but lose *where*: the convolution is translation-equivariant and an
    added position embedding averages to a constant.)"""

    key = "structure"

    def __init__(self, dim: int, grid: int = 7, hidden: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.grid = grid
        self.net = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, dim, 3, padding=1),
        )
        self.position = nn.Parameter(torch.randn(1, dim, grid, grid) * 0.02)
        self.pool = nn.Linear(dim * grid * grid, dim)

    def forward(self, conditions: Conditions) -> Knowledge:
        mask = self.read(conditions).float()
        if mask.shape[1:] != (1, self.grid, self.grid):
            raise ValueError(
                f"structure must be masks (B, 1, {self.grid}, {self.grid}), got {tuple(mask.shape)}"
            )
        tokens = (self.net(mask) + self.position).flatten(2).transpose(1, 2)  # (B, g*g, d)
        return Knowledge(tokens=tokens, pooled=self.pool(tokens.flatten(1)))

    def placeholder(self, batch: int) -> Conditions:
        return Conditions({"structure": torch.zeros(batch, 1, self.grid, self.grid)})


class StructureKind:
    """A silhouette: an image file, a PIL image, an image array or a 7x7 0/1 grid; images are
    reduced to their 7x7 occupancy mask exactly as training computes it."""

    name = "structure"
    grid = 7

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        given = as_given(value, num, (1, self.grid, self.grid), "structure")
        if given is not None:
            return given.float()
        if isinstance(value, list | tuple) and len(value) == self.grid and num != self.grid:
            value = np.asarray(value)  # a 7x7 grid written as nested lists
        masks = [self.mask(v, context.image_side) for v in per_image(value, num, "structure")]
        return torch.cat(masks)

    def mask(self, value: Any, side: int) -> torch.Tensor:
        """One silhouette -> (1, 1, 7, 7) in {0, 1}."""
        from PIL import Image

        from knowgen.data.color import structure_mask

        if isinstance(value, str | Path):
            path = Path(value)
            if not path.is_file():
                raise FileNotFoundError(f"structure image {str(path)!r} does not exist")
            try:
                with Image.open(path) as picture:
                    if picture.width * picture.height > MAX_STRUCTURE_PIXELS:
                        raise KnowledgeError(f"structure image {path} is too large")
                    value = picture.convert("L").copy()
            except OSError as err:
                raise KnowledgeError(f"{path}: not a readable image ({err})") from None
        if isinstance(value, Image.Image):
            grey = value.convert("L").resize((side, side), Image.Resampling.BILINEAR)
            pixels = torch.from_numpy(np.asarray(grey, dtype=np.uint8).copy())
            return structure_mask(pixels[None, None])
        array = torch.as_tensor(np.asarray(value, dtype=np.float32))
        if array.shape == (self.grid, self.grid):
            if not bool(((array == 0) | (array == 1)).all()):
                raise KnowledgeError("a 7x7 structure grid must hold only 0 and 1")
            return array[None, None]
        if array.ndim in (2, 3):
            image = array if array.ndim == 2 else array.amax(-1)  # (H, W) or (H, W, C)
            scale = 255.0 if image.numel() and float(image.max()) > 1 else 1.0
            pixels = (image / scale * 255).round().clamp(0, 255).to(torch.uint8)
            return self.mask(Image.fromarray(pixels.numpy()), side)
        raise KnowledgeError(
            f"structure: give an image path, a PIL image, an (H, W) array or a 7x7 0/1 grid; "
            f"got an array of shape {tuple(array.shape)}"
        )

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        return StructureEncoder(dim, self.grid)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        from knowgen.data.color import structure_mask

        return torch.cat([structure_mask(part) for part in dataset.images.split(4096)])


# continuous attributes a dataset may know (`shapes`), each a kind of its own: kind -> the
# dataset attributes (each in [0, 1)) it reads
ATTRIBUTE_KINDS = {"size": ("size",), "rotation": ("rotation",), "position": ("x", "y")}

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        ClassKind(),
        HueKind(),
        StyleKind(),
        StructureKind(),
        TextKind(),
        *(AttributeKind(name, attrs) for name, attrs in ATTRIBUTE_KINDS.items()),
        ConceptKind(),
    )
}

# how a person may name a kind in Python (`class` is a keyword there) and on the web
KEYWORDS = {"class_": "class", "color": "hue", "colour": "hue"} | {name: name for name in KINDS}


def kind_named(keyword: str, accepted: Sequence[str]) -> str:
    """The kind a keyword names (`class_` -> "class", `color` -> "hue"), if the model accepts it."""
    name = KEYWORDS.get(keyword)
    if name is None or name not in accepted:
        what = ", ".join(public_name(k) for k in accepted) or "nothing (an unconditional generator)"
        given = keyword.removesuffix("_")
        raise KnowledgeError(f"this generator does not take {given!r}; it accepts: {what}")
    return name


def public_name(kind: str) -> str:
    """What a person calls a kind (the hue is asked for as a colour)."""
    return {"hue": "color"}.get(kind, kind)
