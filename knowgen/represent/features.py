"""Features of real images from what a run learned: its discriminator's trunk (and InfoGAN's Q
head), read from the run's newest checkpoint without unpickling anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from knowgen.checkpoint import latest_checkpoint, load_checkpoint
from knowgen.config import RunConfig, build_config
from knowgen.images import to_float
from knowgen.knowledge import placeholder_conditions
from knowgen.train.state import init_state
from knowgen.transfer import TEACHERS, Teacher


@dataclass
class RunModels:
    """A run's discriminator (with its Q head, if any) and EMA generator, in eval mode."""

    discriminator: nn.Module
    generator: nn.Module
    cfg: RunConfig
    image_shape: tuple[int, int, int]
    class_names: list[str]
    step: int


def load_run_models(run_dir: Path) -> RunModels:
    """Rebuild the run's networks as training built them and load its newest checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {str(run_dir)!r} does not exist")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise ValueError(
            f"{run_dir} has no checkpoint; features need a run directory (an export folder "
            "holds only the generator)"
        )
    payload = load_checkpoint(checkpoint)
    cfg = build_config(payload["config"])
    shape = tuple(payload["image_shape"])
    class_names = list(payload.get("class_names", []))
    teacher = None
    if cfg.transfer.needs_teacher:  # its weights are in the checkpoint: build, don't train
        arch = TEACHERS[cfg.transfer.teacher_arch]
        net = arch(shape, len(class_names), cfg.transfer.teacher_width).eval()
        teacher = Teacher(net.requires_grad_(False), "from-checkpoint", None, None)
    with torch.random.fork_rng():
        state = init_state(
            cfg.model,
            cfg.train,
            shape,
            torch.device("cpu"),
            len(class_names),
            cfg.transfer,
            teacher,
            knowledge=cfg.knowledge,
        )
    state.discriminator.load_state_dict(payload["discriminator"])
    state.ema.model.load_state_dict(payload["ema_generator"])
    return RunModels(
        state.discriminator.eval(),
        state.ema.model.eval(),
        cfg,
        shape,
        class_names,
        int(payload["step"]),
    )


@torch.no_grad()
def discriminator_features(
    discriminator: nn.Module, images: torch.Tensor, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 images (N, C, H, W) -> (D-trunk features (N, F) float32, InfoGAN code predictions
    (N, codes) or None): the argmax of each categorical code, then the continuous means.

    D runs in eval mode (BatchNorm uses its running statistics, so an image's features do not
    depend on its batch). A conditional D is given class 0: its features do not depend on the
    condition, only its logits do.
    """
    discriminator.eval()
    q_head = discriminator.q_head
    features, codes = [], []
    for start in range(0, len(images), batch_size):
        batch = to_float(images[start : start + batch_size])
        cond = placeholder_conditions(discriminator, len(batch))
        h = discriminator.judge(batch, cond).features
        features.append(h.float().numpy())
        if q_head is not None:
            logits, mean, _ = q_head(h)
            parts = [lg.argmax(1, keepdim=True).float() for lg in logits] + [mean]
            codes.append(torch.cat(parts, dim=1).numpy())
    empty = np.zeros((0, 0), np.float32)
    return (
        np.concatenate(features) if features else empty,
        np.concatenate(codes) if codes else None,
    )
