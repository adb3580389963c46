"""The `[transfer]` section: which knowledge transfer, from which teacher and which source
generator (standard library only, so that reading a config never imports torch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TRANSFER_MODES = ("init", "projected", "feature-matching", "vision-aided")
TEACHER_ARCHS = ("teachernet-v1", "teachernet-deep")


def modes_from(value: Any) -> list[str]:
    """`transfer.mode` (one name, "none" = empty) as the `transfer.modes` list it stands for."""
    if isinstance(value, str):
        return [] if value == "none" else [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"transfer.mode must be a mode name, got {value!r}")
    return list(value)


@dataclass(frozen=True)
class TransferConfig:
    """Which knowledge transfer, from which teacher and which source generator."""

    # the ways a classifier's knowledge enters training, any compatible set (empty: none);
    # `transfer.mode = "init"` is read as `modes = ["init"]`
    modes: tuple[str, ...] = ()
    # a trained knowgen run (its newest checkpoint) or export that G, D and the EMA start from:
    # other classes, another style or another dataset of the same image shape
    source: str | None = None
    freeze_d: int = 0  # FreezeD (Mo et al. 2020): D's first k blocks keep the source's weights
    # what of G trains at first: all of it, or only its class embedding and normalisation layers
    # (for `tune_g_steps` steps, then all of it)
    tune_g: Literal["all", "class-and-norm"] = "all"
    tune_g_steps: int = 1000
    # a new class's embedding (one the source never had) starts as the source classes' rows
    # weighted by the teacher's mean soft prediction over its images, or where G's init left it
    class_start: Literal["teacher", "random"] = "teacher"
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
        modes = tuple(m for m in TRANSFER_MODES if m in self.modes)  # one canonical order
        unknown = sorted(set(self.modes) - set(TRANSFER_MODES) - {"none"})
        if unknown:
            raise ValueError(
                f"unknown transfer mode {unknown[0]!r}; choose from {list(TRANSFER_MODES)} "
                "(or none)"
            )
        if len(modes) != len([m for m in self.modes if m != "none"]):
            raise ValueError(f"transfer.modes {list(self.modes)} names a mode twice")
        object.__setattr__(self, "modes", modes)
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
        for key in ("teacher_width", "projection_channels", "aided_every", "tune_g_steps"):
            if getattr(self, key) < 1:
                raise ValueError(f"transfer.{key} must be >= 1")
        for key in ("fm_weight", "aided_weight", "freeze_d"):
            if getattr(self, key) < 0:
                raise ValueError(f"transfer.{key} must be >= 0")
        if self.freeze_d and self.source is None and "init" not in modes:
            raise ValueError(
                "transfer.freeze_d keeps D's first blocks as a source (or the teacher, with "
                "mode 'init') left them; set transfer.source"
            )
        if self.tune_g != "all" and self.source is None:
            raise ValueError(
                f"transfer.tune_g={self.tune_g!r} fine-tunes a G that learned elsewhere; set "
                "transfer.source"
            )

    def uses(self, mode: str) -> bool:
        """Whether `mode` is one of the transfer modes this run trains with."""
        return mode in self.modes

    @property
    def needs_teacher(self) -> bool:
        """Whether training builds or loads a teacher (a source alone needs one only to start
        new classes: `class_start`, decided when the source is read)."""
        return bool(self.modes)

    def aided_weight_at(self, step: int) -> float:
        """The vision-aided second D's loss weight at `step`: `aided_weight` times `aided_every`
        on every `aided_every`-th step, 0 (its teacher passes skipped) on the others, so that
        the term weighs the same per step on average."""
        every = self.aided_every
        return self.aided_weight * every if step % every == 0 else 0.0
