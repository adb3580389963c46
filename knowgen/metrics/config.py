"""How generators are judged (the `[eval]` config section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EvalConfig:
    """How generators are judged. FID is biased upward for small N: compare equal `num_samples`."""

    num_samples: int = 10_000
    split: Literal["train", "test"] = "test"  # the real images judged against
    reference_num: int | None = 10_000  # real images used (None = the whole split)
    every_steps: int | None = None  # evaluate during training every N steps ...
    every_minutes: float | None = None  # ... or every M minutes of training time
    keep_best: bool = True  # during training, keep checkpoints/best.pt by FID
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prd_k: int = 5
    seed: int = 0  # noise seed of the judged samples

    def __post_init__(self) -> None:
        if self.num_samples < 10:
            raise ValueError(f"eval.num_samples must be >= 10, got {self.num_samples}")
        if self.every_steps is not None and self.every_steps < 1:
            raise ValueError(f"eval.every_steps must be >= 1, got {self.every_steps}")
        if self.every_minutes is not None and self.every_minutes <= 0:
            raise ValueError(f"eval.every_minutes must be > 0, got {self.every_minutes}")
        if self.reference_num is not None and self.reference_num < 10:
            raise ValueError(f"eval.reference_num must be >= 10, got {self.reference_num}")
