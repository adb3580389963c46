"""Checkpoint files: where a run keeps them and how one is read without unpickling code.

Reading lives here, below training, so that sampling and evaluation can open a run's newest
checkpoint without importing the training code that writes them (`knowgen.train.checkpoint`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REQUIRED_KEYS = ("step", "config", "image_shape", "class_names", "ema_generator")
_NAME = re.compile(r"step-(\d+)\.pt")  # the whole name (fullmatch): not backup_step-9.pt


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def newest_intact_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of a run that reads back whole, with its payload; a damaged newer
    one is skipped with a warning (a disk that filled up, a copy cut short)."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path)
        except ValueError as err:
            log.warning("skipping damaged checkpoint %s (%s)", path, err)
    return None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely (`weights_only=True`); a damaged file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} is unreadable or corrupt ({err})") from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} is not a knowgen checkpoint (format {FORMAT_VERSION})")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} is incomplete: it lacks {missing}")
    return payload
