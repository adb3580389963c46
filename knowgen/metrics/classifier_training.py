"""Supervised training of the small classifiers knowgen judges and teaches with (the evaluator,
factor classifiers, transfer teachers, CAS): one reproducible recipe loop, its shift
augmentation and the accuracy it reports. Apart from `evaluator.py`, which decides *which*
classifier to load or train and where it is cached."""

from __future__ import annotations

import math
import sys
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from knowgen.data import BatchSampler, Dataset
from knowgen.images import to_float


class TrainingRecipe(Protocol):
    """What the loop reads from a recipe (`evaluator.EvaluatorRecipe` is the one in use); a
    protocol so that this module need not import the evaluator that imports it."""

    seed: int
    batch_size: int
    epochs: int
    lr: float
    weight_decay: float
    max_shift_px: int
    use_hflip: bool


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own whole-pixel offset in [-max_shift, max_shift] (the border
    filled with background, -1)."""
    if max_shift == 0:
        return images
    batch, _, height, width = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (batch, 2), generator=generator)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = offsets[:, 0] * 2.0 / width
    theta[:, 1, 2] = offsets[:, 1] * 2.0 / height
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    shifted = F.grid_sample(images + 1.0, grid, mode="nearest", align_corners=False)
    return shifted - 1.0


def train_classifier(
    net: nn.Module, dataset: Dataset, recipe: TrainingRecipe, desc: str = "classifier"
) -> None:
    """Reproducible supervised training: AdamW + one-cycle LR, shift augmentation. A dataset
    smaller than the recipe's batch trains on whole-dataset batches."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    sampler = BatchSampler(len(dataset), min(recipe.batch_size, len(dataset)), seed=recipe.seed)
    steps = recipe.epochs * sampler.batches_per_epoch
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=steps)
    net.train()
    progress = tqdm(
        range(steps),
        desc=f"training {desc}",
        unit="step",
        leave=False,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,  # logs stay readable when redirected
    )
    for step in progress:
        index = sampler.batch(step)
        images = random_shift(to_float(dataset.images[index]), recipe.max_shift_px, generator)
        if recipe.use_hflip:
            flip = torch.rand(len(images), generator=generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        loss = F.cross_entropy(net(images), dataset.labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0:
            progress.set_postfix(loss=f"{loss.item():.3f}")
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"{desc} training diverged at step {step}")
    net.eval()


@torch.no_grad()
def classifier_accuracy(net: nn.Module, dataset: Dataset, batch_size: int = 1000) -> float:
    net.eval()
    correct = 0
    for start in range(0, len(dataset), batch_size):
        logits = net(to_float(dataset.images[start : start + batch_size]))
        correct += int((logits.argmax(1) == dataset.labels[start : start + batch_size]).sum())
    return correct / len(dataset)
