"""A post-hoc inversion encoder: images -> the latent z a trained generator would need to make
them. Trained on generated pairs (G(z), z), so it needs no labels and no real images; applied to
real images it gives `G(E(x))` reconstructions and its trunk gives features for the probes.

Saved beside the run (`encoder.safetensors` + `encoder.json`) and reused while the generator it
was trained for (same checkpoint step, same recipe) is current.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from knowgen.cache import cached, read_tensors, store, write_tensors
from knowgen.images import to_float
from knowgen.models.dcgan import dcgan_geometry, dcgan_trunk, stage_channels
from knowgen.models.layers import init_dcgan_weights

log = logging.getLogger(__name__)

WEIGHTS_NAME = "encoder.safetensors"
META_NAME = "encoder.json"


@dataclass(frozen=True)
class EncoderRecipe:
    """How the encoder is trained; part of what identifies a saved one."""

    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 64
    seed: int = 0


class InversionEncoder(nn.Module):
    """Image -> DCGAN-style strided conv trunk (BN, LeakyReLU) -> flattened features -> z."""

    def __init__(self, image_shape: tuple[int, int, int], z_dim: int, width: int = 64):
        super().__init__()
        channels, side, _ = image_shape
        base, stages = dcgan_geometry(side)
        widths = stage_channels(stages, width, 512)[::-1]
        self.trunk = nn.Sequential(*dcgan_trunk(channels, widths, use_batchnorm=True))
        self.to_latent = nn.Linear(widths[-1] * base * base, z_dim)
        self.apply(init_dcgan_weights)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.features(x))


def train_encoder(
    generator: nn.Module, image_shape: tuple[int, int, int], recipe: EncoderRecipe
) -> tuple[InversionEncoder, dict]:
    """Fit E so that E(G(z)) = z on fresh z each step (G frozen, eval mode). Returns E in eval
    mode and a record (final latent MSE, seconds). Leaves the caller's RNG untouched."""
    generator.eval().requires_grad_(False)
    with torch.random.fork_rng():
        torch.manual_seed(recipe.seed)
        encoder = InversionEncoder(image_shape, generator.z_dim, recipe.width)
        optimizer = torch.optim.Adam(encoder.parameters(), lr=recipe.lr, betas=(0.5, 0.999))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, recipe.steps)
        start, recent = time.perf_counter(), []
        for _ in tqdm(range(recipe.steps), desc="training inversion encoder", unit="step"):
            z = torch.randn(recipe.batch_size, generator.z_dim)
            with torch.no_grad():
                images = generator(z, _conditions(generator, len(z)))
            loss = F.mse_loss(encoder(images), z)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            recent = (recent + [loss.item()])[-100:]
    record = {"latent_mse": sum(recent) / len(recent), "train_seconds": time.perf_counter() - start}
    return encoder.eval(), record


def _conditions(generator: nn.Module, num: int):
    classes = generator.num_classes
    return {"class": torch.randint(classes, (num,))} if classes else None


def load_or_train_encoder(
    run_dir: Path,
    generator: nn.Module,
    image_shape: tuple[int, int, int],
    generator_step: int,
    recipe: EncoderRecipe | None = None,
) -> InversionEncoder:
    """The run's saved encoder if it was trained for this generator with this recipe, else a
    newly trained one (saved)."""
    recipe = recipe or EncoderRecipe()
    identity = {"generator_step": generator_step, "recipe": asdict(recipe)}
    weights, meta = Path(run_dir) / WEIGHTS_NAME, Path(run_dir) / META_NAME

    def read(path: Path) -> InversionEncoder | None:
        record = json.loads(meta.read_text(encoding="utf-8"))
        if {k: record.get(k) for k in identity} != identity:
            return None  # trained for another step or recipe: replaced, not damaged
        encoder = InversionEncoder(image_shape, generator.z_dim, recipe.width)
        encoder.load_state_dict(read_tensors(path))
        return encoder.eval()

    def build() -> InversionEncoder:
        encoder, record = train_encoder(generator, image_shape, recipe)
        text = json.dumps(identity | record, indent=2) + "\n"
        store(meta, lambda tmp: tmp.write_text(text, encoding="utf-8"))  # then the weights:
        write_tensors(weights, encoder.state_dict())  # they publish the entry
        log.info(
            "inversion encoder: latent MSE %.3f after %d steps", record["latent_mse"], recipe.steps
        )
        return encoder

    return cached(weights, read, build, "inversion encoder")


@torch.no_grad()
def encoder_features(
    encoder: InversionEncoder, images: torch.Tensor, batch_size: int = 500
) -> np.ndarray:
    """uint8 images (N, C, H, W) -> the encoder trunk's features (N, F) as float32 numpy."""
    parts = [
        encoder.features(to_float(images[i : i + batch_size])).numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts)


@torch.no_grad()
def encode_latents(
    encoder: InversionEncoder, images: torch.Tensor, batch_size: int = 500
) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> the latents E(x) (N, z_dim)."""
    return torch.cat(
        [encoder(to_float(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    )


@torch.no_grad()
def reconstruct(
    encoder: InversionEncoder,
    generator: nn.Module,
    images: torch.Tensor,
    classes: torch.Tensor | None = None,
) -> torch.Tensor:
    """G(E(x)) for uint8 images (N, C, H, W): float images in [-1, 1]. A conditional generator
    needs the images' `classes` (the encoder recovers z, not the condition)."""
    cond = None
    if generator.num_classes:
        if classes is None:
            raise ValueError("inverting a conditional generator needs the images' classes")
        cond = {"class": classes.long()}
    return generator(encoder(to_float(images)), cond)
