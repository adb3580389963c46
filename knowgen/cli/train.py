"""`knowgen train`."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.config import (
    DEFAULT_PRESET,
    apply_overrides,
    build_config,
    load_preset,
    read_raw_config,
)
from knowgen.data import DATASETS
from knowgen.train.loop import train

NAME = "train"


def data_overrides(data: str) -> list[str]:
    """`--data NAME|PATH` as config assignments: a dataset name, else an image folder."""
    if data in DATASETS:
        return [f'data.name="{data}"']
    if Path(data).is_dir():
        escaped = str(Path(data)).replace("\\", "\\\\").replace('"', '\\"')
        return ['data.name="folder"', f'data.path="{escaped}"']
    raise ValueError(
        f"--data {data!r} is neither a dataset name ({', '.join(sorted(DATASETS))}) "
        "nor an existing image folder"
    )


def stop_overrides(steps: int | None, epochs: float | None, minutes: float | None) -> list[str]:
    """Stop conditions given on the command line replace all of the preset's."""
    given = {"steps": steps, "epochs": epochs, "minutes": minutes}
    if all(v is None for v in given.values()):
        return []
    return [f"train.{k}={'none' if v is None else v}" for k, v in given.items()]


@reports_user_errors
def command(
    preset: str = typer.Option(
        None, help=f"Preset name or .toml file (default: {DEFAULT_PRESET})."
    ),
    data: str = typer.Option(
        None, help=f"Dataset name ({', '.join(sorted(DATASETS))}) or an image folder."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a config key: section.key=value."),
    out: Path = typer.Option(None, help="Run directory (default: runs/<preset>)."),
    steps: int = typer.Option(None, min=1, help="Stop after this many D updates."),
    epochs: float = typer.Option(None, help="Stop after this many passes over the data."),
    minutes: float = typer.Option(None, help="Stop after this much training wall time."),
    seed: int = typer.Option(
        None, min=0, max=2**63 - 1, help="Seed for weights, noise and data order."
    ),
    device: str = typer.Option(None, help="cpu, cuda or auto."),
    eval_every: int = typer.Option(
        None, min=1, help="Evaluate (FID, ...) every N steps; keep best."
    ),
    resume: Path = typer.Option(None, help="Continue the run in this directory."),
    overwrite: bool = typer.Option(False, help="Delete a non-empty --out directory first."),
) -> None:
    """Train a generator; checkpoints, samples/ and metrics.jsonl go to the run directory.

    Stop conditions given here (--steps/--epochs/--minutes) replace the preset's; the run ends at
    the first one reached. Ctrl-C stops at the next step and saves a checkpoint.
    """
    overrides = list(set_)
    overrides += data_overrides(data) if data else []
    overrides += stop_overrides(steps, epochs, minutes)
    overrides += [f"train.seed={seed}"] if seed is not None else []
    overrides += [f'train.device="{device}"'] if device else []
    overrides += [f"eval.every_steps={eval_every}"] if eval_every else []
    if resume is not None:
        if preset or out or data:
            raise ValueError("--resume continues a run as configured; drop --preset/--out/--data")
        cfg = build_config(apply_overrides(read_raw_config(resume / "config.toml"), overrides))
        run_dir = resume
    else:
        name = preset or DEFAULT_PRESET
        cfg = build_config(apply_overrides(load_preset(name), overrides))
        run_dir = out or Path("runs") / Path(name).stem
    state = train(cfg, run_dir, resume=resume is not None, overwrite=overwrite)
    if state.world.is_main:
        typer.echo(
            f"run {run_dir}: step {state.step}, {state.elapsed_s:.0f} s of training; "
            f"samples in {run_dir / 'samples'}, next: knowgen export {run_dir}"
        )
