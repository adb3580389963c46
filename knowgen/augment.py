"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every image D sees.

D must never learn to tell real from fake by the augmentation, so the same random transforms
are applied to real and generated batches, in D's update and in G's (G's gradient flows back
through them). Written batch-wise on tensors: no per-image Python work. Randomness comes from
PyTorch's global generator, which checkpoints save, so a resumed run draws the same transforms.

`AdaptiveStrength` is ADA's controller (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data"): instead of every transform on every image, each acts on an image
with probability p, and p follows D's overfitting. On a few hundred images a fixed full-strength
DiffAugment can be the wrong baseline (it slows learning long before D overfits); ADA applies
augmentation only as far as D's confidence on training reals says it is needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

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


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], p: float = 1.0) -> torch.Tensor:
    """Apply the transforms of `policy` in order (the paper's order is color, translation,
    cutout). Differentiable in x. With p < 1 (ADA) each transform acts on each image with
    probability p; p = 1 draws exactly what plain DiffAugment draws, so its runs are unchanged."""
    if p <= 0.0:
        return x
    for name in policy:
        augmented = AUGMENTATIONS[name](x)
        if p < 1.0:
            untouched = torch.rand(len(x), 1, 1, 1, device=x.device) >= p
            augmented = torch.where(untouched, x, augmented)
        x = augmented
    return x


class AdaptiveStrength:
    """ADA's controller. Every `INTERVAL` D steps, r = E[sign(D's realness on training reals)]
    (1: D calls every training image real with confidence, the mark of memorising it) moves p by
    the images seen over `images_to_full` towards more augmentation when r > target, less when
    r < target. `realness` is D's logit for losses whose logit has an absolute meaning and the
    paired difference D(real) - D(fake) for relativistic and Wasserstein ones, whose logits are
    defined only up to a shift."""

    INTERVAL = 4  # D steps per adjustment, as in ADA

    def __init__(self, target: float, images_to_full: int, p: float = 0.0) -> None:
        self.target, self.images_to_full, self.p = target, images_to_full, p
        self.signs: torch.Tensor | float = 0.0  # sum of each step's mean sign since adjusting
        self.steps = self.images = 0

    def update(
        self,
        mean_sign: torch.Tensor,
        images: int,
        average: Callable[[dict[str, float]], dict[str, float]] = lambda record: record,
    ) -> float:
        """Record one D step's mean sign over `images` (the global batch) and adjust p when an
        interval is complete; `average` means r over data-parallel ranks, so all agree on p.
        Returns p for the next step."""
        self.signs = self.signs + mean_sign.detach().float()
        self.steps, self.images = self.steps + 1, self.images + images
        if self.steps >= self.INTERVAL:
            r = average({"r": float(self.signs) / self.steps})["r"]
            direction = (r > self.target) - (r < self.target)
            self.p = min(max(self.p + direction * self.images / self.images_to_full, 0.0), 1.0)
            self.signs, self.steps, self.images = 0.0, 0, 0
        return self.p

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "signs": float(self.signs), "steps": self.steps, "images": self.images}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p, self.signs = float(state["p"]), float(state["signs"])
        self.steps, self.images = int(state["steps"]), int(state["images"])
