"""Where training numbers go: `metrics.jsonl` (one JSON object per line) and TensorBoard."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from knowgen.files import atomic_write_text

log = logging.getLogger(__name__)


class MetricsLog:
    """Appends `{"step": ..., name: value}` records; mirrors scalars and images to TensorBoard."""

    def __init__(self, run_dir: Path, use_tensorboard: bool) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = None
        if use_tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # pragma: no cover - tensorboard is a dependency
                log.warning("tensorboard is not installed; logging to metrics.jsonl only")

    def truncate_after(self, step: int) -> None:
        """Drop records past `step`: after a crash they describe steps that will be redone."""
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a half-written last line from a killed process
        atomic_write_text(self.path, "".join(k + "\n" for k in kept))

    def scalars(self, step: int, values: dict[str, Any]) -> None:
        record = {"step": step} | {k: _plain(v) for k, v in values.items()}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, step)

    def image(self, step: int, tag: str, grid: np.ndarray) -> None:
        """A uint8 (H, W, C) picture, to TensorBoard only (PNG files are written by the caller)."""
        if self.writer is not None:
            self.writer.add_image(tag, torch.from_numpy(grid), step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return round(float(value), 6)
    if isinstance(value, float):
        return round(value, 6)
    return value


class SilentLog(MetricsLog):
    """What ranks other than 0 of a data-parallel run log: nothing (rank 0 writes for all)."""

    def __init__(self) -> None:  # no files, no writer
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def scalars(self, step: int, values: dict[str, Any]) -> None:
        pass

    def image(self, step: int, tag: str, grid: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass
