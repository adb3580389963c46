"""Image conversions at the edges (float [-1, 1] inside, uint8 outside) and PNG grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from knowgen.files import atomic_write


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] (B, C, H, W) -> uint8 in [0, 255]."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, C, H, W) -> float in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 images (N, C, H, W) -> one uint8 picture (H', W', C), `nrow` images per row."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, dtype=np.uint8)
    data = images.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = data[i]
    return grid


def display_scale(side: int, min_side: int = 56) -> int:
    """Integer upscale so tiny images (8 or 28 px) are big enough to judge by eye."""
    return max(1, math.ceil(min_side / side))


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Save uint8 (N, C, H, W) images as one PNG grid, each image enlarged `scale` times."""
    return save_png(grid_picture(images, nrow, scale), path)


def grid_picture(images: torch.Tensor, nrow: int | None = None, scale: int = 1) -> Image.Image:
    """uint8 (N, C, H, W) images as one grid picture, each image enlarged `scale` times."""
    if scale > 1:
        images = images.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    grid = make_grid(images, nrow)
    return Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)


def save_png(picture: Image.Image, path: str | Path) -> Path:
    """Write `picture` as a PNG at `path`, atomically (a failed write leaves no half image)."""
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))


def arrange_by_class(
    images: torch.Tensor, classes: torch.Tensor, num_classes: int, per_class: int
) -> torch.Tensor:
    """The first `per_class` images of each class (in the given order, no picking), one class per
    row; missing places stay white. uint8 (num_classes * per_class, C, H, W)."""
    rows = torch.full((num_classes, per_class, *images.shape[1:]), 255, dtype=torch.uint8)
    for cls in range(num_classes):
        members = images[classes == cls][:per_class]
        rows[cls, : len(members)] = members
    return rows.flatten(0, 1)


def label_rows(picture: Image.Image, labels: list[str], row_height: int, pad: int) -> Image.Image:
    """Prefix each row of a grid picture with its label (Pillow's built-in font, no files)."""
    from PIL import ImageDraw

    width = 8 + 7 * max(len(label) for label in labels)
    canvas = Image.new(picture.mode, (picture.width + width, picture.height), "white")
    canvas.paste(picture, (width, 0))
    draw = ImageDraw.Draw(canvas)
    fill = 0 if picture.mode == "L" else (0, 0, 0)
    for i, label in enumerate(labels):
        draw.text((4, pad + i * (row_height + pad) + row_height // 2 - 5), label, fill=fill)
    return canvas


def label_grid_file(path: Path, labels: list[str], row_height: int) -> None:
    """Rewrite the grid PNG at `path` with a label before each row."""
    with Image.open(path) as picture:
        labelled = label_rows(picture.copy(), labels, row_height, pad=2)
    save_png(labelled, path)
