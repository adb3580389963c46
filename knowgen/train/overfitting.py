"""The overfitting signal: D's mean output on training images beside its output on real images
it never trained on. While D generalises the two agree; when it memorises a small training set,
training reals score higher than held-out ones, and the gap (`d_overfit_gap`) grows. This is the
signal ADA (Karras et al. 2020) steers by; here it is logged to metrics.jsonl and TensorBoard."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch
from torch import nn

from knowgen.data import Dataset
from knowgen.data.datasets import DataConfig, load_held_out
from knowgen.images import to_float
from knowgen.knowledge.conditioning import TrainingConditions

log = logging.getLogger(__name__)

PROBE_IMAGES = 256


class OverfittingProbe:
    """D's mean logit on `PROBE_IMAGES` fixed training images and as many held-out ones."""

    def __init__(
        self,
        train_index: torch.Tensor,
        held_out: Dataset,
        conditioning: TrainingConditions,
        device: torch.device,
    ) -> None:
        self.train_index = train_index
        self.train_cond = conditioning.for_real(train_index.to(device))
        labels = held_out.labels if held_out.labels is not None else torch.zeros(len(held_out))
        self.held_out_cond = conditioning.for_labels(labels.long())
        self.held_out = to_float(held_out.images.to(device))

    @classmethod
    def for_run(
        cls,
        data_cfg: DataConfig,
        dataset: Dataset,
        conditioning: TrainingConditions,
        device: torch.device,
    ) -> OverfittingProbe | None:
        """The probe of a run, or None (logged) where there is no held-out set or the held-out
        images' knowledge is not known from their labels."""
        try:
            conditioning.for_labels(torch.zeros(1, dtype=torch.long))
        except NotImplementedError as err:
            log.info("no overfitting signal: %s", err)
            return None
        held_out = load_held_out(data_cfg, PROBE_IMAGES)
        if held_out is None:
            log.info("no held-out real images (a folder has no test split): no overfitting signal")
            return None
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))
        return cls(order[:PROBE_IMAGES].sort().values, held_out, conditioning, device)

    @torch.no_grad()
    def __call__(self, discriminator: nn.Module, images: torch.Tensor) -> dict[str, float]:
        """D's mean logit on the training and held-out images (D's own `training` mode, as it
        judges in training, with its BatchNorm statistics and power iterations left as found)."""
        train_images = to_float(images[self.train_index.to(images.device)])
        with buffers_kept(discriminator):
            seen = discriminator(train_images, self.train_cond).float().mean()
            unseen = discriminator(self.held_out, self.held_out_cond).float().mean()
        return {
            "d_real_train": float(seen),
            "d_real_heldout": float(unseen),
            "d_overfit_gap": float(seen - unseen),
        }


@contextlib.contextmanager
def buffers_kept(module: nn.Module) -> Iterator[None]:
    """Run passes that must not change `module`'s buffers (BatchNorm running statistics, spectral
    norm's vectors): they are restored afterwards, so probing leaves training's trajectory alone."""
    saved = [(buffer, buffer.clone()) for buffer in module.buffers()]
    try:
        yield
    finally:
        for buffer, value in saved:
            buffer.copy_(value)
