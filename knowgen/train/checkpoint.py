"""Training checkpoints: atomic writes, the last k kept, loaded without unpickling code.

A checkpoint holds only `state_dict()`s, tensors and plain values (see STYLE.md), so it loads with
`torch.load(..., weights_only=True)` and a resumed run continues the same trajectory.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from knowgen.checkpoint import (  # noqa: F401 - the file side, shared with sampling
    FORMAT_VERSION,
    checkpoint_dir,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    newest_intact_checkpoint,
)
from knowgen.files import atomic_write
from knowgen.train.state import TrainState

log = logging.getLogger(__name__)

TRAINING_KEYS = ("generator", "discriminator", "opt_g", "opt_d", "elapsed_s", "rng_cpu")


def state_to_dict(state: TrainState, meta: dict[str, Any]) -> dict[str, Any]:
    """Plain-data form of `state`; `meta` adds the run's config, image shape and class names."""
    payload: dict[str, Any] = meta | {
        "format_version": FORMAT_VERSION,
        "step": state.step,
        "elapsed_s": state.elapsed_s,
        "generator": state.generator.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "ema_generator": state.ema.model.state_dict(),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "rng_cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        payload["rng_cuda"] = torch.cuda.get_rng_state_all()
    if state.ada is not None:
        payload["ada"] = state.ada.state_dict()
    return payload


class NonFiniteWeightsError(RuntimeError):
    """The weights are no longer finite numbers: writing them would replace good checkpoints."""


def check_finite_weights(state: TrainState) -> None:
    """Refuse to checkpoint NaN/inf weights (a loss can be finite one step before an update
    that breaks them), naming the network; earlier checkpoints stay untouched."""
    for name, network in (("generator", state.generator), ("discriminator", state.discriminator),
                          ("EMA generator", state.ema.model)):  # fmt: skip
        for tensor in network.state_dict().values():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise NonFiniteWeightsError(
                    f"the {name}'s weights became NaN/inf by step {state.step}; not checkpointed "
                    "(earlier checkpoints are intact). Lower the learning rates or change loss.kind"
                )


def save_checkpoint(state: TrainState, meta: dict[str, Any], run_dir: Path, keep: int) -> Path:
    """Write `checkpoints/step-NNNNNNN.pt` atomically (finite weights only) and delete all but
    the newest `keep`."""
    check_finite_weights(state)
    path = write_state(state, meta, checkpoint_dir(run_dir) / f"step-{state.step:07d}.pt")
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def write_state(state: TrainState, meta: dict[str, Any], path: Path) -> Path:
    """Atomically write the training state to `path` (unique temp file, fsync, rename)."""
    payload = state_to_dict(state, meta)
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def restore_state(state: TrainState, payload: dict[str, Any]) -> None:
    """Load models, optimizers, EMA, counters and RNG states from a checkpoint payload."""
    missing = [key for key in TRAINING_KEYS if key not in payload]
    if missing:
        raise ValueError(f"the checkpoint cannot resume training: it lacks {missing}")
    state.generator.load_state_dict(payload["generator"])
    state.discriminator.load_state_dict(payload["discriminator"])
    state.ema.model.load_state_dict(payload["ema_generator"])
    state.opt_g.load_state_dict(payload["opt_g"])
    state.opt_d.load_state_dict(payload["opt_d"])
    state.step = int(payload["step"])
    state.elapsed_s = float(payload["elapsed_s"])
    if state.ada is not None and "ada" in payload:  # else a run that turned ADA on restarts at p 0
        state.ada.load_state_dict(payload["ada"])
    torch.set_rng_state(payload["rng_cpu"])
    if "rng_cuda" in payload and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
