"""`shapes`: a procedural set whose every factor is known (shape, colour, size, position, rotation).

32x32 RGB images of one filled shape on black, drawn deterministically from a generator seeded
by the split, so the set is the same everywhere and needs no download (in the spirit of dSprites,
with colour). Every factor is drawn independently and uniformly:

- shape: square, triangle, plus, ellipse (the class label). No circle: a circle has no rotation.
- colour: hue on the whole colour circle, saturation 0.6-1.0 (as `fashion-mnist-color`, so the
  same hue and structure measures apply);
- size: circumradius 5-10 px; position: the centre anywhere that keeps the largest shape inside;
- rotation: 0-60 degrees. Each shape's symmetry period (90, 120, 90, 180 degrees) is longer, so
  rotation is identifiable for every shape, with no wrap-around between its first and last bin.

Each continuous factor also has named bins (`factor_labels`), which the factor classifiers learn
and the captions use ("a large red triangle at the top left").
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from knowgen.cache import cache_dir, cached, store
from knowgen.data.color import SATURATION_RANGE, tint

log = logging.getLogger(__name__)

SHAPES = ["square", "triangle", "plus", "ellipse"]
SIZE = 32
RADIUS_RANGE = (5.0, 10.0)  # circumradius in pixels
MAX_ROTATION_DEG = 60.0
SHAPES_SEED = {"train": 8_001, "test": 8_002}
NUM_IMAGES = {"train": 30_000, "test": 6_000}
VERSION = 1  # bump whenever the drawing changes: it names the cached copy
SUPERSAMPLE = 4  # anti-aliasing: coverage of each pixel from 4x4 sub-pixels

# named bins of each continuous factor: what the factor classifiers judge
FACTOR_BINS: dict[str, list[str]] = {
    "size": ["small", "medium", "large"],
    "position": [
        f"{row} {col}".replace("middle middle", "centre")
        for row in ("top", "middle", "bottom")
        for col in ("left", "middle", "right")
    ],
    "rotation": ["upright", "tilted", "rotated"],  # 0-20, 20-40, 40-60 degrees
}


def shape_factors(num: int, split: str) -> dict[str, torch.Tensor]:
    """Every factor of `num` images, fixed by the split's seed; each continuous factor in [0, 1)."""
    generator = torch.Generator().manual_seed(SHAPES_SEED[split])
    low, high = SATURATION_RANGE
    return {
        "shape": torch.randint(len(SHAPES), (num,), generator=generator),
        "hue": torch.rand(num, generator=generator),
        "saturation": low + (high - low) * torch.rand(num, generator=generator),
        "size": torch.rand(num, generator=generator),
        "x": torch.rand(num, generator=generator),
        "y": torch.rand(num, generator=generator),
        "rotation": torch.rand(num, generator=generator),
    }


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Which points (u, v) (in units of the circumradius, in the shape's frame) lie inside."""
    if shape == 0:  # square
        return torch.maximum(u.abs(), v.abs()) <= 1 / math.sqrt(2)
    if shape == 1:  # triangle: inside all three edges (inradius 0.5 at circumradius 1)
        angles = [math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        edges = [u * math.cos(a) + v * math.sin(a) <= 0.5 for a in angles]
        return edges[0] & edges[1] & edges[2]
    if shape == 2:  # plus: two bars whose corners touch the circumcircle
        arm, reach = 0.3, math.sqrt(1 - 0.3**2)
        return ((u.abs() <= arm) & (v.abs() <= reach)) | ((v.abs() <= arm) & (u.abs() <= reach))
    return u**2 + (v / 0.5) ** 2 <= 1  # ellipse, axes 1 and 0.5


def render_grey(factors: dict[str, torch.Tensor], chunk: int = 1024) -> torch.Tensor:
    """Each image's anti-aliased coverage as uint8 grey (N, 1, 32, 32): 255 inside the shape."""
    fine = SIZE * SUPERSAMPLE
    axis = (torch.arange(fine, dtype=torch.float32) + 0.5) / SUPERSAMPLE  # pixel units
    py, px = torch.meshgrid(axis, axis, indexing="ij")
    low, high = RADIUS_RANGE
    out = torch.empty(len(factors["shape"]), 1, SIZE, SIZE, dtype=torch.uint8)
    for shape in range(len(SHAPES)):
        which = (factors["shape"] == shape).nonzero().flatten()
        for part_index in which.split(chunk):
            part = {k: v[part_index].view(-1, 1, 1) for k, v in factors.items()}
            radius = low + (high - low) * part["size"]
            span = SIZE - 2 * high  # centres keep the largest shape inside the frame
            cx, cy = high + span * part["x"], high + span * part["y"]
            angle = part["rotation"] * math.radians(MAX_ROTATION_DEG)
            cos, sin = torch.cos(angle), torch.sin(angle)
            dx, dy = (px - cx) / radius, (py - cy) / radius
            u, v = dx * cos + dy * sin, dy * cos - dx * sin  # into the shape's frame
            coverage = F.avg_pool2d(_inside(shape, u, v).float().unsqueeze(1), SUPERSAMPLE)
            out[part_index] = (coverage * 255).round().to(torch.uint8)
    return out


def factor_labels(factors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each binned factor's class index per image (N,): size and rotation in thirds of their
    range, position in a 3x3 grid of where the centre is."""

    def third(x: torch.Tensor) -> torch.Tensor:
        return (x * 3).floor().clamp(0, 2).long()

    return {
        "size": third(factors["size"]),
        "position": third(factors["y"]) * 3 + third(factors["x"]),
        "rotation": third(factors["rotation"]),
    }


def render_shapes(split: str, num: int | None = None) -> tuple[torch.Tensor, dict]:
    """uint8 RGB images (N, 3, 32, 32) of the split and their factors."""
    factors = shape_factors(num or NUM_IMAGES[split], split)
    grey = render_grey(factors)
    return tint(grey, factors["hue"], factors["saturation"]), factors


def cached_shapes(split: str) -> tuple[torch.Tensor, dict]:
    """`render_shapes(split)`, drawn once (about 15 s on 2 cores) and kept in the cache."""
    path = cache_dir("datasets") / f"shapes-v{VERSION}-{split}-{NUM_IMAGES[split]}.pt"

    def read(path: Path) -> tuple[torch.Tensor, dict]:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return saved["images"], saved["factors"]

    def build() -> tuple[torch.Tensor, dict]:
        log.info("drawing the shapes %s split once (cached afterwards)", split)
        images, factors = render_shapes(split)
        store(path, lambda tmp: torch.save({"images": images, "factors": factors}, tmp))
        return images, factors

    return cached(path, read, build, "shapes dataset")
