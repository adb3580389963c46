"""Fashion-MNIST in colour, with its factors known: every garment tinted with its own hue.

Each image's hue (uniform on the colour circle) and saturation (0.6-1.0) come from a generator
seeded by the split, so the set is the same everywhere and needs no download. The tint is HSV with
the garment's grey level as the value: pixel = hsv_to_rgb(hue, saturation, grey), so black
background stays black, `max(R, G, B)` gives back the original grey image exactly, and the hue of
every foreground pixel is the image's hue. Structure knowledge is a coarse occupancy mask of the
garment computed from any image (`structure_mask`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

COLOR_SEED = {"train": 7_001, "test": 7_002}
SATURATION_RANGE = (0.6, 1.0)
MASK_THRESHOLD = 0.25  # a mask cell is "on" when its mean brightness exceeds this
FOREGROUND = 0.3  # pixels brighter than this carry the hue reliably


def color_factors(num: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(hue in [0, 1), saturation) per image, fixed by the split's seed."""
    generator = torch.Generator().manual_seed(COLOR_SEED[split])
    hue = torch.rand(num, generator=generator)
    low, high = SATURATION_RANGE
    saturation = low + (high - low) * torch.rand(num, generator=generator)
    return hue, saturation


def hsv_to_rgb(hue: torch.Tensor, saturation: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Vectorised HSV -> RGB. hue/saturation (N,) broadcast over value (N, H, W) in [0, 1];
    returns (N, 3, H, W) in [0, 1]."""
    h = hue.view(-1, 1, 1)
    s = saturation.view(-1, 1, 1)
    k = torch.stack([(5 + 6 * h) % 6, (3 + 6 * h) % 6, (1 + 6 * h) % 6], dim=1)  # (N, 3, 1, 1)
    weight = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return value.unsqueeze(1) * (1 - s.unsqueeze(1) * weight)


def tint(grey: torch.Tensor, hue: torch.Tensor, saturation: torch.Tensor) -> torch.Tensor:
    """uint8 grey images (N, 1, H, W) -> uint8 RGB (N, 3, H, W) of the given hues."""
    value = grey[:, 0].float() / 255.0
    return (hsv_to_rgb(hue, saturation, value) * 255.0).round().clamp(0, 255).to(torch.uint8)


def image_hue(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Circular-mean hue in [0, 1) of each image's foreground pixels, and how many there were.

    `images` are RGB in [0, 1] (N, 3, H, W). Each pixel's hue becomes a unit vector on the colour
    circle, weighted by its chroma (max - min), so grey and dark pixels count for little.
    """
    r, g, b = images.unbind(1)
    high, _ = images.max(1)
    low, _ = images.min(1)
    chroma = high - low
    safe = chroma.clamp_min(1e-6)
    sector = torch.where(
        high == r,
        ((g - b) / safe) % 6,
        torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    angle = sector / 6 * 2 * math.pi
    weight = chroma * (high > FOREGROUND)
    x = (weight * torch.cos(angle)).sum((1, 2))
    y = (weight * torch.sin(angle)).sum((1, 2))
    hue = (torch.atan2(y, x) / (2 * math.pi)) % 1.0
    return hue, (weight > 0).sum((1, 2))


def hue_error_degrees(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Shortest angle between two hues in [0, 1), in degrees (0-180)."""
    diff = (predicted - target).abs() % 1.0
    return 360.0 * torch.minimum(diff, 1.0 - diff)


def structure_mask(images: torch.Tensor, grid: int = 7) -> torch.Tensor:
    """Coarse occupancy mask (N, 1, grid, grid) in {0, 1}: which cells the object covers.

    `images` are uint8 or float in [0, 1], grey or RGB; brightness is max over channels (the HSV
    value), averaged per cell."""
    value = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    value = value.max(1, keepdim=True).values
    return (F.adaptive_avg_pool2d(value, grid) > MASK_THRESHOLD).float()


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of binary masks (N, 1, g, g) -> (N,); two empty masks give 1."""
    inter = (a * b).flatten(1).sum(1)
    union = ((a + b) > 0).float().flatten(1).sum(1)
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
