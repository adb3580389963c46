"""Reading and checking what a generator is stored as, before anything is built from it: an export
folder (`generator.safetensors` + `generator.json`), a run directory or a checkpoint file. Apart
from `sampling.py` so that the untrusted-file checks read as one unit; nothing here unpickles code
(safetensors, and checkpoints through `load_checkpoint`'s `weights_only=True`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from knowgen.checkpoint import latest_checkpoint, load_checkpoint

EXPORT_FORMAT_VERSION = 1
# the config sections a generator's description holds (exports, `load`)
GENERATOR_SECTIONS = ("model", "knowledge", "data")
WEIGHTS_NAME = "generator.safetensors"
META_NAME = "generator.json"


def check_description(meta: Any, path) -> None:
    """An export's or checkpoint's description, checked before anything is built from it: a
    JSON object with a model, an image shape (C in {1, 3}, a square side of 4..1024) and class
    names (strings)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise ValueError(f"{path}: the description is not a knowgen generator (no model table)")
    shape = meta.get("image_shape")
    if (
        not isinstance(shape, list | tuple)
        or len(shape) != 3
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
        or shape[0] not in (1, 3)
        or not 4 <= shape[1] == shape[2] <= 1024
    ):
        raise ValueError(f"{path}: image_shape {shape!r} is not [1 or 3, side, side], side 4..1024")
    names = meta.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: class_names must be a list of strings")
    if len(names) > 100_000:
        raise ValueError(f"{path}: {len(names)} class names is beyond reason")


def check_weights_fit(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], path):
    """The stored tensors are exactly those the description's network has, name and shape."""
    want = {name: tuple(t.shape) for name, t in expected.items()}
    have = {name: tuple(t.shape) for name, t in weights.items()}
    if want != have:
        differ = sorted(set(want) ^ set(have)) or [n for n in want if want[n] != have[n]]
        name = differ[0]
        raise ValueError(
            f"{path}: the weights do not match the network its description builds ({len(differ)} "
            f"tensor(s) differ, e.g. {name}: expected {want.get(name)}, stored {have.get(name)})"
        )


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
    meta = {section: payload["config"].get(section, {}) for section in GENERATOR_SECTIONS} | {
        "image_shape": payload["image_shape"],
        "class_names": payload["class_names"],
        "step": payload["step"],
        "source": str(path),
        # the real split the run is judged against (emoji: its training images)
        "reference_split": (payload["config"].get("eval") or {}).get("split", "test"),
    }
    return meta, payload["ema_generator"]


def _read_export(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{folder / META_NAME}: not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{folder / META_NAME}: expected a JSON object describing a generator")
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
