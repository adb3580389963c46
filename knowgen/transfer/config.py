"""The `[transfer]` section: which knowledge transfer, from which teacher (standard library only,
so that reading a config never imports torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TransferMode = Literal["none", "projected", "init", "feature-matching", "vision-aided"]
TEACHER_ARCHS = ("teachernet-v1", "teachernet-deep")


@dataclass(frozen=True)
class TransferConfig:
    """Which knowledge transfer, from which teacher."""

    mode: TransferMode = "none"
    teacher: str | None = None  # your classifier: a .safetensors state dict of `teacher_arch`
    teacher_arch: str = "teachernet-v1"
    teacher_width: int = 64  # teachernet: channels of its first stage (doubles per stage)
    # train knowgen's teacher on these classes (names or indices; disjoint from data.classes)
    # instead of the generator's own data: knowledge of other things
    teacher_classes: tuple[str | int, ...] | None = None
    projection_channels: int = 64  # projected, vision-aided: channels after the 1x1 mixing
    cross_scale: bool = False  # projected, vision-aided: each coarser mixed scale into the finer
    logit_head: bool = False  # projected, vision-aided: one more head on the teacher's logits
    fm_weight: float = 10.0  # feature-matching: weight of the teacher statistics loss
    aided_weight: float = 1.0  # vision-aided: weight of the teacher-based D's loss (D and G)
    # vision-aided: the second D's terms on every k-th step only, weighted by k (lazy, as R1 in
    # StyleGAN2): its teacher passes are most of a vision-aided step's extra cost
    aided_every: int = 1

    def __post_init__(self) -> None:
        if self.teacher_arch not in TEACHER_ARCHS:
            raise ValueError(
                f"unknown transfer.teacher_arch {self.teacher_arch!r}; choose from "
                f"{sorted(TEACHER_ARCHS)}"
            )
        if self.teacher is not None and not Path(self.teacher).is_file():
            raise ValueError(f"transfer.teacher {self.teacher!r} does not exist")
        if self.teacher is not None and self.teacher_classes is not None:
            raise ValueError(
                "transfer.teacher (your classifier) and transfer.teacher_classes (a teacher "
                "knowgen trains) exclude each other; set one"
            )
        if self.teacher_classes is not None and not self.teacher_classes:
            raise ValueError("transfer.teacher_classes is empty; leave it unset instead")
        for key in ("teacher_width", "projection_channels", "aided_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"transfer.{key} must be >= 1")
        for key in ("fm_weight", "aided_weight"):
            if getattr(self, key) < 0:
                raise ValueError(f"transfer.{key} must be >= 0")

    def aided_weight_at(self, step: int) -> float:
        """The vision-aided second D's loss weight at `step`: `aided_weight` times `aided_every`
        on every `aided_every`-th step, 0 (its teacher passes skipped) on the others, so that
        the term weighs the same per step on average."""
        every = self.aided_every
        return self.aided_weight * every if step % every == 0 else 0.0
