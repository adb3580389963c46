"""Where training numbers go: `metrics.jsonl` (one JSON object per line) and TensorBoard; and
the window of steps each record summarises (`LogWindow`), which also watches for NaN/inf."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from knowgen.files import atomic_write_text
from knowgen.write_failures import write_failure

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
        try:  # a torn last line is dropped on resume (truncate_after)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        except OSError as err:  # a plain write's error names no file: name it and its cause
            raise (write_failure(err, self.path) or err) from err
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, step)

    def image(self, step: int, tag: str, grid: np.ndarray) -> None:
        """A uint8 (H, W, C) picture, to TensorBoard only (PNG files are written by the caller)."""
        if self.writer is not None:
            self.writer.add_image(tag, torch.from_numpy(grid), step, dataformats="HWC")

    def close(self) -> None:
        """Flush TensorBoard's events; a failure there (the disk that stopped the run) is
        logged, never raised over the error that stopped it: `metrics.jsonl` is the record."""
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as err:
                log.warning("TensorBoard events not fully written (%s)", err)


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


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stops rather than write garbage checkpoints."""


class LogWindow:
    """Mean loss terms and images/s since the last log record. Terms stay tensors until the
    record is written: one device synchronisation per record, not one per term per step.

    It also watches the terms for NaN/inf. Reading a flag back every step would stall a GPU's
    queue each step, so the window keeps, on the device, the first step at which each term
    stopped being finite and its value then, and `check_finite` reads them where the loop syncs
    anyway: at each log record, before each checkpoint and at the end. The error still names the
    exact step and term, and no checkpoint is written after a non-finite loss.
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        # term -> first step at which it was non-finite (-1: not yet) and its value then (0-dim
        # tensors on the device, never read back until `check_finite`)
        self.first_bad_step: dict[str, torch.Tensor] = {}
        self.first_bad_value: dict[str, torch.Tensor] = {}
        self._reset()

    def _reset(self) -> None:
        self.start, self.steps, self.sums = time.perf_counter(), 0, {}

    def add(self, logs: dict[str, torch.Tensor], step: int) -> None:
        """Add the terms of the step that ended at `step` (no synchronisation)."""
        for key, value in logs.items():
            value = value.detach().double()
            self.sums[key] = self.sums.get(key, 0.0) + value
            total = value.sum()  # NaN or inf where any element is
            if key not in self.first_bad_step:  # once per term: the only host-to-device copies
                self.first_bad_step[key] = torch.tensor(
                    -1.0, dtype=torch.double, device=total.device
                )
                self.first_bad_value[key] = torch.zeros_like(total)
            bad_now = ~torch.isfinite(total) & (self.first_bad_step[key] < 0)
            # `step` goes in as a Python scalar: no copy to the device
            self.first_bad_step[key] = torch.where(bad_now, float(step), self.first_bad_step[key])
            self.first_bad_value[key] = torch.where(bad_now, total, self.first_bad_value[key])
        self.steps += 1

    def check_finite(self) -> None:
        """Stop the run on a NaN/inf loss term seen since the start, naming the first one."""
        if not self.first_bad_step:
            return
        names = list(self.first_bad_step)
        tensors = [self.first_bad_step[n] for n in names] + [self.first_bad_value[n] for n in names]
        read = torch.stack(tensors).tolist()  # one synchronisation
        steps, values = read[: len(names)], read[len(names) :]
        pairs = zip(steps, names, values, strict=True)
        seen = [(int(step), name, value) for step, name, value in pairs if step >= 0]
        if seen:
            step, name, value = min(seen)
            raise NonFiniteLossError(
                f"loss term {name!r} became {value} at step {step}; lower the learning "
                "rates or change loss.kind. Earlier checkpoints are intact."
            )

    def pause(self, seconds: float) -> None:
        """Leave `seconds` (spent on something other than training) out of the rate."""
        self.start += seconds

    def flush(self) -> dict[str, float]:
        self.check_finite()
        seconds = max(time.perf_counter() - self.start, 1e-9)
        record = {k: float(v) / self.steps for k, v in self.sums.items()}
        record["images_per_s"] = self.steps * self.batch_size / seconds
        self._reset()
        return record
