"""Share a generator without pickle: safetensors weights + a JSON description.

`load_generator` accepts an export folder, its `.safetensors` file, a run directory (newest
checkpoint's EMA weights) or a checkpoint file; none of these paths executes pickled code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from knowgen.config import section_from_dict
from knowgen.images import to_uint8
from knowgen.knowledge import Conditions, balanced_classes
from knowgen.models import ModelConfig, build_generator
from knowgen.train.checkpoint import latest_checkpoint, load_checkpoint

EXPORT_FORMAT_VERSION = 1
WEIGHTS_NAME = "generator.safetensors"
META_NAME = "generator.json"


def export_generator(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Write the newest checkpoint's EMA generator of `run_dir` to `out_dir` (default
    `run_dir/export`). Returns the folder."""
    run_dir = Path(run_dir)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{str(run_dir)!r} has no checkpoints to export")
    payload = load_checkpoint(checkpoint)
    out_dir = Path(out_dir) if out_dir else run_dir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {k: v.contiguous() for k, v in payload["ema_generator"].items()}
    save_file(weights, str(out_dir / WEIGHTS_NAME))
    meta = {
        "format_version": EXPORT_FORMAT_VERSION,
        "model": payload["config"]["model"],
        "data": payload["config"]["data"],
        "image_shape": payload["image_shape"],
        "class_names": payload["class_names"],
        "step": payload["step"],
        "source": str(checkpoint),
    }
    (out_dir / META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out_dir


def read_generator_source(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(meta, EMA generator state dict) from an export, a run directory or a checkpoint file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} does not exist (expected a run dir or an export)")
    if path.is_file() and path.suffix == ".safetensors":
        path = path.parent
    if path.is_dir() and (path / META_NAME).is_file():
        return _read_export(path)
    if path.is_dir():
        checkpoint = latest_checkpoint(path)
        if checkpoint is None:
            raise FileNotFoundError(
                f"{str(path)!r} holds neither {META_NAME} nor checkpoints/step-*.pt"
            )
        path = checkpoint
    payload = load_checkpoint(path)
    meta = {
        "model": payload["config"]["model"],
        "data": payload["config"]["data"],
        "image_shape": payload["image_shape"],
        "class_names": payload["class_names"],
        "step": payload["step"],
    }
    return meta, payload["ema_generator"]


def _read_export(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{folder / META_NAME}: not valid JSON ({err})") from None
    if meta.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ValueError(
            f"{folder / META_NAME}: unsupported export format {meta.get('format_version')}"
        )
    weights_path = folder / WEIGHTS_NAME
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path} is missing")
    try:
        weights = load_file(str(weights_path))
    except Exception as err:
        raise ValueError(f"{weights_path} is unreadable or corrupt ({err})") from None
    return meta, weights


def load_generator(path: str | Path) -> nn.Module:
    """The EMA generator stored at `path`, in eval mode on the CPU (`.z_dim` tells its input)."""
    return load_generator_and_meta(path)[0]


def load_generator_and_meta(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """`load_generator` plus the stored description (model, data, image shape, classes), read
    from the same file once."""
    meta, weights = read_generator_source(Path(path))
    model_cfg = section_from_dict(ModelConfig, meta["model"], "model")
    class_names = list(meta.get("class_names", []))
    generator = build_generator(model_cfg, tuple(meta["image_shape"]), len(class_names))
    try:
        generator.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not match model {model_cfg.name!r} ({err})") from None
    generator.class_names = class_names
    return generator.eval(), meta


def condition_kind(generator: nn.Module) -> str:
    """What `generator` is conditioned on: "class", "text" or "none"."""
    encoder = getattr(getattr(generator, "base", generator), "encoder", None)
    return getattr(encoder, "key", "none") if encoder is not None else "none"


def conditioned_classes(generator: nn.Module) -> int:
    """How many classes `generator` takes as a condition (0 = unconditional)."""
    return int(getattr(generator, "num_classes", 0))


def default_classes(generator: nn.Module, num: int) -> torch.Tensor | None:
    """The classes `generate` asks a conditional generator for when none are given: every class
    equally often, in order (see `balanced_classes`); None for an unconditional generator."""
    num_classes = conditioned_classes(generator)
    return balanced_classes(num, num_classes) if num_classes else None


@torch.no_grad()
def generate(
    generator: nn.Module,
    num: int,
    seed: int = 0,
    batch_size: int = 500,
    classes: torch.Tensor | None = None,
    conditions: Conditions | None = None,
) -> torch.Tensor:
    """`num` uint8 images (N, C, H, W) from `generator`, reproducible for a given `seed`.

    A class-conditional generator makes image i of class `classes[i]` (default:
    `default_classes`); an unconditional one refuses `classes`. Other conditions (a text
    generator's caption embeddings) come whole in `conditions`, one row per image.
    """
    if conditions is not None:
        lengths = {len(v) for v in conditions.values()}
        if lengths != {num}:
            raise ValueError(f"got conditions for {sorted(lengths)} images, asked for {num}")
        return _generate(generator, num, seed, batch_size, conditions)
    if condition_kind(generator) == "text":
        raise ValueError("this generator is text-conditional: pass caption embeddings")
    num_classes = conditioned_classes(generator)
    if classes is None:
        classes = default_classes(generator, num)
    elif not num_classes:
        raise ValueError("this generator is unconditional; it cannot be asked for classes")
    elif len(classes) != num:
        raise ValueError(f"got {len(classes)} classes for {num} images")
    return _generate(
        generator, num, seed, batch_size, {"class": classes.long()} if classes is not None else None
    )


def _generate(
    generator: nn.Module, num: int, seed: int, batch_size: int, conditions: Conditions | None
) -> torch.Tensor:
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    out = []
    for start in range(0, num, batch_size):
        z = torch.randn(min(batch_size, num - start), generator.z_dim, generator=rng)
        cond = None
        if conditions is not None:
            cond = {k: v[start : start + len(z)].to(device) for k, v in conditions.items()}
        out.append(to_uint8(generator(z.to(device), cond)))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.uint8)
