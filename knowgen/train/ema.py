"""Exponential moving average of the generator's weights (used for every sample shown)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `model` averaged with half-life `halflife_steps` and a warm-up.

    Warm-up: the decay is capped at (1 + t) / (10 + t) so that early averages do not drag in the
    random initialisation (as in Karras et al.'s and Yaz et al. 2019's practice). Buffers such as
    BatchNorm running statistics are copied, not averaged.
    """

    def __init__(self, model: nn.Module, halflife_steps: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.beta = 0.5 ** (1.0 / halflife_steps) if halflife_steps > 0 else 0.0

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average toward `model` after optimisation step `step` (0-based)."""
        beta = min(self.beta, (1.0 + step) / (10.0 + step))
        ema_params = list(self.model.parameters())
        torch._foreach_lerp_(ema_params, list(model.parameters()), 1.0 - beta)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)
