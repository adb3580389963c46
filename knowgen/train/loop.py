"""The one training loop shared by every preset."""

from __future__ import annotations

import logging
import math
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm import tqdm

from knowgen.augment import parse_policy
from knowgen.config import RunConfig, config_to_dict, save_config
from knowgen.data import BatchSampler, Dataset, load_dataset
from knowgen.images import display_scale, make_grid, save_grid, to_float, to_uint8
from knowgen.knowledge import Conditions, balanced_classes
from knowgen.knowledge.fusion import FusedConditions, held_out
from knowgen.knowledge.text import caption_bank_for, load_text_conditions
from knowgen.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore_state,
    save_checkpoint,
)
from knowgen.train.distributed import World, init_world, leave_world
from knowgen.train.evaluation import PeriodicEvaluation
from knowgen.train.metrics_log import MetricsLog, SilentLog
from knowgen.train.state import TrainState, init_state, resolve_device
from knowgen.train.steps import d_step, g_step, generate_fake
from knowgen.transfer import load_or_train_teacher

log = logging.getLogger(__name__)

FIXED_NOISE_SEED = 1234


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stops rather than write garbage checkpoints."""


def prepare_run_dir(run_dir: Path, cfg: RunConfig, resume: bool, overwrite: bool) -> None:
    """Create the run directory and save `config.toml`; refuse to silently mix two runs."""
    run_dir = Path(run_dir)
    if resume:
        if latest_checkpoint(run_dir) is None:
            raise FileNotFoundError(f"nothing to resume: {run_dir} has no checkpoints/step-*.pt")
    elif run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"run directory {str(run_dir)!r} is not empty; resume it with "
                f"`knowgen train --resume {run_dir}`, pick another --out, or pass --overwrite"
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.toml")


def stop_step(cfg: RunConfig, batches_per_epoch: int) -> int | None:
    """The step at which the run ends by `steps`/`epochs` (the wall budget is checked live)."""
    limits = []
    if cfg.train.steps is not None:
        limits.append(cfg.train.steps)
    if cfg.train.epochs is not None:
        limits.append(math.ceil(cfg.train.epochs * batches_per_epoch))
    return min(limits) if limits else None


@contextmanager
def graceful_stop():
    """Turn the first Ctrl-C / SIGTERM into a request to stop at the next step boundary.

    Stopping between steps keeps the saved state exactly on the trajectory; a second Ctrl-C
    interrupts at once.
    """
    requested = {"stop": False}

    def handler(signum, frame):  # noqa: ARG001
        if requested["stop"]:
            raise KeyboardInterrupt
        requested["stop"] = True
        log.warning("stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    in_main_thread = True
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (e.g. inside some test runners)
        in_main_thread = False
    try:
        yield requested
    finally:
        if in_main_thread:
            for sig, old in previous.items():
                signal.signal(sig, old)


def fixed_noise(num: int, z_dim: int, device: torch.device) -> torch.Tensor:
    """The same latent vectors at every sample grid, so grids show progress, not luck."""
    generator = torch.Generator().manual_seed(FIXED_NOISE_SEED)
    return torch.randn(num, z_dim, generator=generator).to(device)


def fixed_conditions(num: int, state: TrainState) -> Conditions | None:
    """Classes 0..K-1 repeated (for a text run, one fixed training phrasing of each): with K
    images per grid row, each column is one class. A captions-file run shows the first images'
    captions."""
    if state.fused is not None:  # the first images' knowledge, every kind given
        return state.fused.of_images(torch.arange(num) % state.fused.size)
    text = state.text
    if text is not None:
        if text.bank.groups_are_classes:
            classes = balanced_classes(num, text.bank.num_groups)
            return text.for_classes(classes, held_out=False, seed=FIXED_NOISE_SEED)
        first = [text.bank.ids(g)[0] for g in range(min(num, text.bank.num_groups))]
        ids = torch.tensor(first * (num // len(first) + 1))[:num]
        return text.conditions(ids.to(state.device))
    if not state.num_classes:
        return None
    return {"class": balanced_classes(num, state.num_classes).to(state.device)}


def grid_columns(state: TrainState) -> int | None:
    """Images per sample-grid row: one per class for a conditional run, else the default."""
    if state.text is not None and state.text.bank.groups_are_classes:
        return state.text.bank.num_groups
    return state.num_classes or None


def write_samples(
    state: TrainState,
    noise: torch.Tensor,
    cond: Conditions | None,
    run_dir: Path,
    metrics: MetricsLog,
):
    with torch.no_grad():
        images = to_uint8(state.ema.model(noise, cond))
    path = run_dir / "samples" / f"step-{state.step:07d}.png"
    nrow = grid_columns(state)
    save_grid(images, path, nrow=nrow, scale=display_scale(images.shape[-1]))
    metrics.image(state.step, "samples", make_grid(images, nrow))
    return path


def train_step(
    state: TrainState,
    real: torch.Tensor,
    cfg: RunConfig,
    real_cond: Conditions | None = None,
    mismatched: Conditions | None = None,
) -> dict[str, torch.Tensor]:
    """One D update, a G update every `n_critic` steps, the EMA update; returns the loss terms.

    `real_cond` holds the real batch's conditions (e.g. its labels) for a conditional model;
    `mismatched`, for a text model, a caption of something else for each real image.
    """
    update_g = (state.step + 1) % cfg.train.n_critic == 0
    policy = parse_policy(cfg.train.diffaugment)
    with state.autocast():
        fake = generate_fake(state, len(real) * state.world.size, with_grad=update_g)
        logs = d_step(state, real, real_cond, fake, cfg.loss, policy, mismatched)
        if update_g:
            fm = cfg.transfer.fm_weight
            logs |= g_step(state, fake, cfg.loss, policy, real=real, fm_weight=fm)
    state.ema.update(state.generator, state.step)
    state.step += 1
    check_finite(logs, state.step)
    return logs


class LogWindow:
    """Mean loss terms and images/s since the last log record."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._reset()

    def _reset(self) -> None:
        self.start, self.steps, self.sums = time.perf_counter(), 0, {}

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        for key, value in logs.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.steps += 1

    def pause(self, seconds: float) -> None:
        """Leave `seconds` (spent on something other than training) out of the rate."""
        self.start += seconds

    def flush(self) -> dict[str, float]:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        record = {k: v / self.steps for k, v in self.sums.items()}
        record["images_per_s"] = self.steps * self.batch_size / seconds
        self._reset()
        return record


def train(
    cfg: RunConfig,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    dataset: Dataset | None = None,
) -> TrainState:
    """Train the GAN in `cfg`; write checkpoints, samples and metrics under `run_dir`.

    Args:
        cfg: the resolved configuration (saved as `run_dir/config.toml`).
        run_dir: the run directory; must be empty or absent unless `resume` or `overwrite`.
        resume: continue from the newest checkpoint in `run_dir` on the same trajectory.
        overwrite: delete an existing non-empty `run_dir` first.
        dataset: an already loaded dataset (tests, benchmarks); default loads `cfg.data`.
    """
    run_dir = Path(run_dir)
    world = init_world(cfg.train.device)
    try:
        state = _train(cfg, run_dir, resume, overwrite, dataset, world)
        # every rank done (rank 0 writes last) before any tears the group down: a gloo peer
        # that leaves early can abort the others' connection threads ("terminate called ...")
        world.barrier()
        return state
    finally:
        leave_world(world)


def _train(
    cfg: RunConfig,
    run_dir: Path,
    resume: bool,
    overwrite: bool,
    dataset: Dataset | None,
    world: World,
) -> TrainState:
    if world.is_main:
        prepare_run_dir(run_dir, cfg, resume, overwrite)
    world.barrier()  # the others read the run directory rank 0 prepared
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    # Tiny values (Adam's second moments, saturated activations) become denormal floats, which
    # x86 CPUs process many times slower; flushing them to zero changes no result that matters.
    torch.set_flush_denormal(cfg.train.flush_denormal)
    world.local_batch(cfg.train.batch_size)  # a batch that does not divide is an error now
    dataset = dataset if dataset is not None else load_dataset(cfg.data)
    device = resolve_device(cfg.train.device, world)
    num_classes = len(dataset.class_names) if dataset.labels is not None else 0
    text = None
    if cfg.model.condition == "text":
        bank, keep = caption_bank_for(dataset, cfg.data.captions)
        dataset = dataset.subset(keep) if keep is not None else dataset
        text = load_text_conditions(cfg.model.text_model, bank, device)
        log.info(
            "text conditions: %d training and %d held-out captions",
            int((~bank.held_out).sum()),
            int(bank.held_out.sum()),
        )
    fused = None
    if cfg.model.condition == "fusion":
        if cfg.data.holdout_pairs:  # never train on the held-out (class, colour) pairs
            held = held_out(dataset, cfg.data.holdout_pairs)
            dataset = dataset.subset((~held).nonzero().flatten())
            pairs = len(cfg.data.holdout_pairs)
            log.info("held out %d training images of %d pairs", int(held.sum()), pairs)
        fused = FusedConditions(
            dataset,
            cfg.model.fusion_kinds,
            cfg.model.condition_dropout,
            device,
            cfg.model.text_model,
            cfg.model.single_kind_prob,
        )
    teacher = None
    if cfg.transfer.mode != "none":
        teacher = load_or_train_teacher(cfg.data, cfg.transfer, dataset)
        log.info("transfer %s from teacher %s", cfg.transfer.mode, teacher.key)
    state = init_state(
        cfg.model, cfg.train, dataset.image_shape, device, num_classes, cfg.transfer, teacher, world
    )
    state.text = text
    state.fused = fused
    metrics = MetricsLog(run_dir, cfg.train.tensorboard) if world.is_main else SilentLog()
    if resume:  # every rank restores the same checkpoint: identical weights, RNG and step
        checkpoint = latest_checkpoint(run_dir)
        restore_state(state, load_checkpoint(checkpoint))
        metrics.truncate_after(state.step)
        log.info("resumed %s at step %d", run_dir, state.step)

    evaluates = (cfg.eval.every_steps or cfg.eval.every_minutes) and world.is_main
    evaluation = PeriodicEvaluation(cfg, run_dir, state.elapsed_s) if evaluates else None
    images = dataset.images.to(device)
    labels = dataset.labels.to(device) if state.num_classes else None
    groups = None  # text: each real image's caption group (its class, or itself)
    if text is not None:
        by_class = text.bank.groups_are_classes
        groups = (
            dataset.labels.to(device) if by_class else torch.arange(len(dataset), device=device)
        )
    sampler = BatchSampler(len(dataset), cfg.train.batch_size, seed=cfg.train.seed)
    last_step = stop_step(cfg, sampler.batches_per_epoch)
    budget_s = cfg.train.minutes * 60 if cfg.train.minutes is not None else math.inf
    noise = fixed_noise(cfg.train.num_samples, state.z_dim, device)
    noise_cond = fixed_conditions(cfg.train.num_samples, state)
    meta = {
        "config": config_to_dict(cfg),
        "image_shape": list(dataset.image_shape),
        "class_names": list(dataset.class_names),
        "world_size": world.size,
    }
    train_cfg = cfg.train
    memory_format = torch.channels_last if train_cfg.channels_last else torch.contiguous_format
    progress = tqdm(
        total=last_step,
        initial=state.step,
        unit="step",
        dynamic_ncols=True,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
        desc=run_dir.name,
        disable=not world.is_main,
    )
    window = LogWindow(train_cfg.batch_size)

    def publish(write) -> None:
        """Every rank averages BatchNorm statistics; rank 0 then writes (samples, checkpoint)."""
        world.average_buffers(state.generator, state.discriminator, state.ema.model)
        if world.is_main:
            write()

    def save() -> None:
        publish(lambda: save_checkpoint(state, meta, run_dir, train_cfg.keep_checkpoints))

    def sample() -> None:
        publish(lambda: write_samples(state, noise, noise_cond, run_dir, metrics))

    try:
        with graceful_stop() as stop:
            step_start = time.perf_counter()
            for global_index in sampler.iter_from(state.step):
                done = last_step is not None and state.step >= last_step
                if world.agree(done or state.elapsed_s >= budget_s or stop["stop"]):
                    break
                index = world.shard(global_index)
                real_cond, mismatched = None, None
                if fused is not None:
                    real_cond = world.shard_conditions(fused.for_real(global_index))
                elif text is not None:  # drawn for the global batch, then sliced: see World
                    real_cond = world.shard_conditions(text.for_real(groups[global_index]))
                    mismatched = world.shard_conditions(text.mismatched(groups[global_index]))
                elif labels is not None:
                    real_cond = {"class": labels[index]}
                real = to_float(images[index]).contiguous(memory_format=memory_format)
                window.add(train_step(state, real, cfg, real_cond, mismatched))
                progress.update(1)
                if state.step % train_cfg.log_every == 0:
                    record = world.average_scalars(window.flush())
                    record["elapsed_s"] = state.elapsed_s
                    metrics.scalars(state.step, record)
                    progress.set_postfix(
                        d=f"{record.get('d_adv', 0):.3f}",
                        g=f"{record.get('g_adv', 0):.3f}",
                        img_s=f"{record['images_per_s']:.0f}",
                    )
                if state.step % train_cfg.sample_every == 0:
                    sample()
                if state.step % train_cfg.checkpoint_every == 0:
                    save()
                now = time.perf_counter()
                state.elapsed_s += now - step_start
                if evaluation is not None and evaluation.due(state):
                    metrics.scalars(state.step, evaluation(state, meta))
                    # evaluation time is not training time: the clocks skip it
                    window.pause(time.perf_counter() - now)
                    now = time.perf_counter()
                step_start = now
        final_checkpoint = latest_checkpoint(run_dir)
        saved = final_checkpoint is not None and final_checkpoint.name.endswith(
            f"{state.step:07d}.pt"
        )
        if not world.agree(saved):  # rank 0 wrote it: its view decides
            save()
        if state.step % train_cfg.sample_every != 0:
            sample()
    finally:
        progress.close()
        metrics.close()
    log.info("stopped at step %d after %.1f s of training", state.step, state.elapsed_s)
    return state


def check_finite(logs: dict[str, torch.Tensor], step: int) -> None:
    """Stop the run on the first NaN/inf loss term, naming it."""
    for name, value in logs.items():
        if not math.isfinite(float(value)):
            raise NonFiniteLossError(
                f"loss term {name!r} became {float(value)} at step {step}; lower the learning "
                "rates or change loss.kind. Earlier checkpoints are intact."
            )
