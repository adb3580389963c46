"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every image D sees.

D must never learn to tell real from fake by the augmentation, so the same random transforms
are applied to real and generated batches, in D's update and in G's (G's gradient flows back
through them). Written batch-wise on tensors: no per-image Python work. Randomness comes from
PyTorch's global generator, which checkpoints save, so a resumed run draws the same transforms.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+U(-0.5, 0.5)), saturation (x U(0, 2) around the pixel's channel mean)
    and contrast (x U(0.5, 1.5) around the image mean), per image."""
    b = len(x)
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its side in x and y (integer pixels), filling with 0
    (mid-grey in [-1, 1])."""
    b, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = torch.randint(-max_y, max_y + 1, (b, 1, 1), device=x.device)
    shift_x = torch.randint(-max_x, max_x + 1, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None] + shift_y  # source row per output row
    cols = torch.arange(w, device=x.device)[None, None, :] + shift_x
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).flatten(1)  # (B, H*W)
    moved = x.flatten(2).gather(2, flat.unsqueeze(1).expand(-1, x.shape[1], -1))
    return moved.view_as(x) * inside


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of `ratio` times the side per image, centred anywhere (clipped at the
    borders)."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    centre_y = torch.randint(0, h, (b, 1, 1), device=x.device)
    centre_x = torch.randint(0, w, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~hole).unsqueeze(1).to(x.dtype)


AUGMENTATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


@functools.cache
def parse_policy(text: str) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '' or 'none' -> (); unknown names are
    an error listing the valid ones. Cached: the training step asks for it every step."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"unknown DiffAugment transform(s) {unknown}; choose from {sorted(AUGMENTATIONS)}"
        )
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """Apply the transforms of `policy` in order (the paper's order is color, translation,
    cutout). Differentiable in x."""
    for name in policy:
        x = AUGMENTATIONS[name](x)
    return x
