"""The one training loop shared by every preset."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from knowgen.augment import parse_policy
from knowgen.config import RunConfig, config_to_dict
from knowgen.data import BatchSampler, Dataset, load_dataset
from knowgen.files import run_lock
from knowgen.generator_files import GENERATOR_SECTIONS
from knowgen.images import display_scale, make_grid, to_float
from knowgen.knowledge import Conditions
from knowgen.knowledge.conditioning import accepted_kinds, training_conditions
from knowgen.sampling import Generator, wrap
from knowgen.train.checkpoint import (
    latest_checkpoint,
    newest_intact_checkpoint,
    restore_state,
    save_checkpoint,
)
from knowgen.train.distributed import World, init_world, leave_world
from knowgen.train.evaluation import PeriodicEvaluation
from knowgen.train.metrics_log import LogWindow, MetricsLog, SilentLog
from knowgen.train.overfitting import OverfittingProbe
from knowgen.train.precision import describe as describe_precision
from knowgen.train.precision import resolve_precision
from knowgen.train.run_dir import prepare_run_dir
from knowgen.train.state import TrainState, apply_optimizer_settings, init_state, resolve_device
from knowgen.train.steps import d_step, g_step, generate_fake
from knowgen.transfer import load_or_train_teacher
from knowgen.transfer.source import begin_from_source, tune_generator, tunes_g_first
from knowgen.write_failures import WriteFailed

log = logging.getLogger(__name__)

FIXED_NOISE_SEED = 1234


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


def stopped_at(run_dir: Path, step: int) -> str:
    """What a run that could not write keeps, and how to go on."""
    last = latest_checkpoint(run_dir)
    if last is None:
        return f"The run stopped at step {step}, before its first checkpoint"
    return (
        f"The run stopped at step {step}; its last good checkpoint {last.name} is intact: once "
        f"fixed, continue with `knowgen train --resume {run_dir}`"
    )


def write_samples(run: Run, metrics: MetricsLog) -> Path:
    """The EMA generator's grid of the run's fixed noise and knowledge (through the sampling
    API: the same seed draws the same noise at every grid, so grids show progress, not luck)."""
    state = run.state
    samples = run.sampler_api.sample(run.cfg.train.num_samples, FIXED_NOISE_SEED, **run.fixed)
    path = run.dir / "samples" / f"step-{state.step:07d}.png"
    nrow = state.conditioning.grid_columns
    samples.save_grid(path, nrow=nrow, scale=display_scale(samples.images.shape[-1]))
    metrics.image(state.step, "samples", make_grid(samples.images, nrow))
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
        aided = cfg.transfer.aided_weight_at(state.step)
        logs = d_step(state, real, real_cond, fake, cfg.loss, policy, mismatched, aided)
        if update_g:
            fm = cfg.transfer.fm_weight
            logs |= g_step(state, fake, cfg.loss, policy, real, fm, aided, real_cond)
    if state.ada is not None:
        images = len(real) * state.world.size
        logs["augment_p"] = torch.tensor(state.ada.p)  # the strength this step trained with
        state.ada.update(logs["d_real_sign"], images, state.world.average_scalars)
    state.ema.update(state.generator, state.step)
    state.step += 1
    return logs


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
        # one trainer per run directory: rank 0 holds its lock until the run ends
        lock = run_lock(run_dir) if world.is_main else contextlib.nullcontext()
        with lock, denormals_flushed(cfg.train.flush_denormal):
            state = _train(cfg, run_dir, resume, overwrite, dataset, world)
            # every rank done (rank 0 writes last) before any tears the group down: a gloo
            # peer that leaves early can abort the others' connection threads
            world.barrier()
        return state
    finally:
        leave_world(world)


@contextlib.contextmanager
def denormals_flushed(flush: bool):
    """Tiny values (Adam's second moments, saturated activations) become denormal floats, which
    x86 CPUs process many times slower; flushing them to zero changes no result that matters.
    The process' previous mode comes back afterwards: a library call leaves no global state."""
    before = float((torch.tensor(1e-310, dtype=torch.float64) * 1.0).item()) == 0.0
    torch.set_flush_denormal(flush)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


@dataclass
class Run:
    """Everything a run needs, built once by `build_run`; the loop only reads it."""

    cfg: RunConfig
    dir: Path
    world: World
    state: TrainState
    dataset: Dataset
    images: torch.Tensor  # (N, C, H, W) uint8 on the training device
    batches: BatchSampler
    last_step: int | None
    budget_s: float
    meta: dict
    fixed: dict  # the knowledge of the sample grids, by kind
    evaluation: PeriodicEvaluation | None
    probe: OverfittingProbe | None  # D on training vs held-out reals, at every log record

    @functools.cached_property
    def sampler_api(self) -> Generator:
        """The EMA generator behind the sampling API (what `knowgen.load` would return), built
        once: it wraps the live EMA network, so it always samples the current weights."""
        config = self.meta["config"]
        return wrap(self.state.ema.model, self.meta | {k: config[k] for k in GENERATOR_SECTIONS})


def chosen_precision(requested: str, device: torch.device, world: World) -> str:
    """`train.precision` resolved ("auto" measured once per machine), logged with the reason;
    under torchrun every rank takes rank 0's verdict, so no two ranks train differently."""
    choice = resolve_precision(requested, device)
    log.info(describe_precision(choice))
    if requested != "auto" or not world.distributed:
        return choice.precision
    return "bf16" if world.agree(choice.precision == "bf16") else "fp32"


def build_run(
    cfg: RunConfig, run_dir: Path, resume: bool, overwrite: bool, dataset: Dataset | None,
    world: World,
) -> Run:  # fmt: skip
    """Prepare the run directory, load the data, draw its knowledge, build models, optimizers,
    EMA and teacher (or restore them from the newest checkpoint), and the periodic evaluation."""
    failure, payload = None, None
    if world.is_main:
        try:
            payload = prepare_run_dir(run_dir, cfg, resume, overwrite)
        except Exception as err:  # raised below, after the other ranks have heard of it
            failure = err
    if world.agree(failure is not None):  # no rank waits forever for a rank 0 that gave up
        if failure is not None:
            raise failure
        raise RuntimeError("rank 0 could not prepare the run directory (see its error)")
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    world.local_batch(cfg.train.batch_size)  # a batch that does not divide is an error now
    dataset = dataset if dataset is not None else load_dataset(cfg.data)
    device = resolve_device(cfg.train.device, world)
    num_classes = len(dataset.class_names) if dataset.labels is not None else 0
    dataset, conditioning = training_conditions(cfg.knowledge, cfg.model.aux_classifier, dataset,
                                                device)  # fmt: skip
    teacher = None
    if cfg.transfer.needs_teacher:
        teacher = load_or_train_teacher(cfg.data, cfg.transfer, dataset)
        log.info("transfer %s from teacher %s", "+".join(cfg.transfer.modes), teacher.key)
    train_cfg = replace(cfg.train, precision=chosen_precision(cfg.train.precision, device, world))
    state = init_state(cfg.model, train_cfg, dataset.image_shape, device, num_classes,
                       cfg.transfer, teacher, world, conditioning, cfg.knowledge)  # fmt: skip
    if cfg.transfer.source is not None and not resume:
        begin_from_source(cfg, state, dataset, run_dir, world)
    if resume:  # every rank restores the same checkpoint: identical weights, RNG and step
        if payload is None:
            payload = newest_intact_checkpoint(run_dir)[1]
        restore_state(state, payload)
        apply_optimizer_settings(state, cfg.train)  # a resumed run's lr/betas are its config's
        log.info("resumed %s at step %d", run_dir, state.step)
    evaluates = (cfg.eval.every_steps or cfg.eval.every_minutes) and world.is_main
    batches = BatchSampler(len(dataset), cfg.train.batch_size, seed=cfg.train.seed)
    meta = {
        "config": config_to_dict(cfg),
        "image_shape": list(dataset.image_shape),
        "class_names": list(dataset.class_names),
        "world_size": world.size,
    }
    fixed = conditioning.fixed(cfg.train.num_samples) or {}
    kinds = accepted_kinds(cfg.knowledge)
    return Run(
        cfg=cfg,
        dir=run_dir,
        world=world,
        state=state,
        dataset=dataset,
        images=dataset.images.to(device),
        batches=batches,
        last_step=stop_step(cfg, batches.batches_per_epoch),
        budget_s=cfg.train.minutes * 60 if cfg.train.minutes is not None else math.inf,
        meta=meta,
        fixed={kind: value for kind, value in fixed.items() if kind in kinds},
        evaluation=PeriodicEvaluation(cfg, run_dir, state.elapsed_s) if evaluates else None,
        probe=OverfittingProbe.for_run(cfg.data, dataset, conditioning, device),
    )


def _train(
    cfg: RunConfig, run_dir: Path, resume: bool, overwrite: bool, dataset: Dataset | None,
    world: World,
) -> TrainState:  # fmt: skip
    run = build_run(cfg, run_dir, resume, overwrite, dataset, world)
    state, train_cfg = run.state, cfg.train
    metrics = MetricsLog(run_dir, train_cfg.tensorboard) if world.is_main else SilentLog()
    if resume:
        metrics.truncate_after(state.step)
    memory_format = torch.channels_last if train_cfg.channels_last else torch.contiguous_format
    progress = tqdm(total=run.last_step, initial=state.step, unit="step", dynamic_ncols=True,
                    mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=run_dir.name,
                    disable=not world.is_main)  # fmt: skip
    window = LogWindow(train_cfg.batch_size)
    g_restricted = False  # transfer.tune_g: only G's class embedding and norms train for now

    def publish(write) -> None:
        """Every rank averages BatchNorm statistics; rank 0 then writes (samples, checkpoint)."""
        world.average_buffers(state.generator, state.discriminator, state.ema.model)
        if world.is_main:
            write()

    def save() -> None:
        window.check_finite()  # never checkpoint after a non-finite loss
        publish(lambda: save_checkpoint(state, run.meta, run_dir, train_cfg.keep_checkpoints))

    def log_record() -> None:
        """The window's mean losses and rate, D's overfitting probe, averaged over ranks."""
        record = window.flush()
        if run.probe is not None:
            record |= run.probe(state.discriminator, run.images)
        record = world.average_scalars(record) | {"elapsed_s": state.elapsed_s}
        metrics.scalars(state.step, record)
        progress.set_postfix(d=f"{record.get('d_adv', 0):.3f}", g=f"{record.get('g_adv', 0):.3f}",
                             img_s=f"{record['images_per_s']:.0f}")  # fmt: skip

    try:
        with graceful_stop() as stop:
            step_start = time.perf_counter()
            for global_index in run.batches.iter_from(state.step):
                done = run.last_step is not None and state.step >= run.last_step
                if world.agree(done or state.elapsed_s >= run.budget_s or stop["stop"]):
                    break
                # conditions are drawn for the global batch, then sliced: see World
                real_cond = world.shard_conditions(state.conditioning.for_real(global_index))
                mismatched = world.shard_conditions(state.conditioning.mismatched(global_index))
                index = world.shard(global_index)
                real = to_float(run.images[index]).contiguous(memory_format=memory_format)
                if tunes_g_first(cfg.transfer, state.step) != g_restricted:
                    g_restricted = not g_restricted
                    tune_generator(state.generator, g_restricted)
                window.add(train_step(state, real, cfg, real_cond, mismatched), state.step)
                progress.update(1)
                if state.step % train_cfg.log_every == 0:
                    log_record()
                if state.step % train_cfg.sample_every == 0:
                    publish(lambda: write_samples(run, metrics))
                if state.step % train_cfg.checkpoint_every == 0:
                    save()
                now = time.perf_counter()
                state.elapsed_s += now - step_start
                if run.evaluation is not None and run.evaluation.due(state):
                    metrics.scalars(state.step, run.evaluation(state, run.meta, run.sampler_api))
                    window.pause(time.perf_counter() - now)  # evaluation is not training time
                    now = time.perf_counter()
                step_start = now
        if window.steps:  # the steps since the last record (a run shorter than log_every)
            log_record()
        final = latest_checkpoint(run_dir)
        saved = final is not None and final.name.endswith(f"{state.step:07d}.pt")
        if not world.agree(saved):  # rank 0 wrote it: its view decides
            save()
        if state.step % train_cfg.sample_every != 0:
            publish(lambda: write_samples(run, metrics))
    except WriteFailed as err:  # a full disk, a size limit, a read-only folder: say what's kept
        raise err.adding(stopped_at(run_dir, state.step)) from err
    finally:
        progress.close()
        metrics.close()
    log.info("stopped at step %d after %.1f s of training", state.step, state.elapsed_s)
    return state
