"""`knowgen info`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.config import read_config
from knowgen.train.checkpoint import list_checkpoints

NAME = "info"


@reports_user_errors
def command(
    run_dir: Path | None = typer.Argument(None, help="A run directory."),
    machine: bool = typer.Option(
        False, "--machine", help="Describe this machine and the speed settings auto picks here."
    ),
) -> None:
    """Summarise a run: config, progress, checkpoints, latest metrics, samples, export."""
    if machine:
        typer.echo(describe_machine())
        if run_dir is None:
            return
    if run_dir is None:
        raise ValueError("give a run directory (knowgen info RUN) or --machine")
    cfg = read_config(run_dir / "config.toml")
    checkpoints = list_checkpoints(run_dir)
    lines = [
        f"run         {run_dir}",
        f"description {cfg.description}",
        f"data        {cfg.data.name} ({cfg.data.split})"
        + (f" at {cfg.data.path}" if cfg.data.path else ""),
        f"model       {cfg.model.name}, z_dim {cfg.model.z_dim}"
        + (f", conditioned on {cfg.knowledge.condition}" if cfg.knowledge.conditional else "")
        + (f", attention at {list(cfg.model.attention_at)}" if cfg.model.attention_at else ""),
        *(
            [f"codes       {'; '.join(cfg.model.codes.describe())} (knowgen traverse)"]
            if cfg.model.codes
            else []
        ),
        *transfer_lines(cfg, run_dir),
        f"loss        {cfg.loss.kind}",
        f"stop        steps={cfg.train.steps} epochs={cfg.train.epochs} "
        f"minutes={cfg.train.minutes}",
        "checkpoints " + (", ".join(p.name for p in checkpoints) or "none"),
    ]
    last = _last_record(run_dir / "metrics.jsonl")
    if last:
        lines.append("latest      " + ", ".join(f"{k}={v}" for k, v in last.items()))
    best = run_dir / "checkpoints" / "best.json"
    if best.is_file():
        record = json.loads(best.read_text(encoding="utf-8"))
        lines.append(f"best        FID {record['fid']:.3f} at step {record['step']} (best.pt)")
    evaluation = run_dir / "eval.json"
    if evaluation.is_file():
        scores = json.loads(evaluation.read_text(encoding="utf-8"))
        conditional = (
            f", conditional accuracy {100 * scores['conditional_accuracy']:.2f}%"
            if "conditional_accuracy" in scores
            else ""
        )
        lines.append(
            f"evaluated   FID {scores['fid']:.3f}, precision {scores['precision']:.3f}, "
            f"recall {scores['recall']:.3f}{conditional} on {scores['num_samples']} samples "
            "(eval.json)"
        )
    samples = sorted((run_dir / "samples").glob("*.png"))
    lines.append(
        f"samples     {len(samples)} grid(s)" + (f", newest {samples[-1]}" if samples else "")
    )
    export = run_dir / "export" / "generator.safetensors"
    lines.append(f"export      {export if export.is_file() else 'none (run knowgen export)'}")
    typer.echo("\n".join(lines))


def transfer_lines(cfg, run_dir: Path) -> list[str]:
    """What the run took from elsewhere: its transfer modes and teacher, and the source model
    with what it started (`transfer.json`, written when the run began from it)."""
    transfer = cfg.transfer
    lines = []
    if transfer.modes:
        lines.append(f"transfer    modes {'+'.join(transfer.modes)}")
    record = run_dir / "transfer.json"
    if transfer.source is not None:
        taken = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        line = f"source      from {taken.get('source', transfer.source)}"
        if "source_step" in taken:
            line += f" (step {taken['source_step']}); D {taken['discriminator']}"
        if transfer.freeze_d:
            line += f", its first {transfer.freeze_d} block(s) frozen"
        lines.append(line)
        for name, parts in taken.get("new_classes", {}).items():
            start = " + ".join(f"{w:.2f} {n}" for n, w in parts.items())
            lines.append(f"            class {name} started as {start}")
    return lines


def describe_machine() -> str:
    """What training would run on here: device, threads, bf16 units, what precision "auto"
    resolves to and why (measured once per machine, then cached)."""
    import os
    import platform

    import torch

    from knowgen.train.precision import cpu_bf16_units, cpu_model, describe, resolve_precision
    from knowgen.train.state import resolve_device

    device = resolve_device("auto")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    choice = resolve_precision("auto", device)
    lines = [
        f"cpu         {cpu_model() or platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}",
        f"bf16 units  {', '.join(cpu_bf16_units()) or 'none'}",
        f"gpu         {gpu}",
        f"torch       {torch.__version__}",
        f"device      {device} (train.device=auto)",
        describe(choice).replace("precision ", "precision   ", 1) + " (train.precision=auto)",
    ]
    return "\n".join(lines)


def _last_record(path: Path) -> dict | None:
    if not path.is_file():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None
