"""`knowgen probe`: how much a run's unsupervised representation knows about the labels."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.represent import run_data

NAME = "probe"

ROWS = [
    ("linear_probe", "pixels_linear_probe", "linear probe (logistic regression) accuracy"),
    ("knn", "pixels_knn", "k-NN (k=10, cosine) accuracy"),
]


def format_report(report: dict) -> str:
    """The probe table: each figure beside its raw-pixel baseline."""
    lines = [f"{'':44s} {'features':>9s} {'pixels':>9s}"]
    for ours, pixels, label in ROWS:
        lines.append(f"{label:44s} {report[ours]:9.2%} {report[pixels]:9.2%}")
    lines.append(
        f"{'k-means on pixels: clustering accuracy / NMI':44s} "
        f"{report['pixels_kmeans_accuracy']:9.2%} {report['pixels_kmeans_nmi']:9.3f}"
    )
    for key in sorted(k for k in report if k.endswith("_clustering_accuracy")):
        code = key.split("_")[0]
        label = f"InfoGAN {code}: clustering accuracy / NMI"
        lines.append(f"{label:44s} {report[key]:9.2%} {report[f'{code}_nmi']:9.3f}")
    lines.append(
        f"train {report['train_images']} images, test {report['test_images']} images "
        f"(features: {report['features']}, {report['feature_dim']} dims)"
    )
    return "\n".join(lines)


@reports_user_errors
def command(
    run_dir: Path = typer.Argument(..., help="A run directory (its newest checkpoint is read)."),
    data: str = typer.Option(None, help="Dataset name or image folder (default: the run's)."),
    n_train: int = typer.Option(
        None, min=10, help="Fit on the first N train images (default: all)."
    ),
    features: str = typer.Option(
        "discriminator",
        help="discriminator (D's trunk; InfoGAN codes from Q) or encoder (the inversion "
        "encoder's trunk, trained on first use; InfoGAN codes read from E(x)).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Fit probes on train-split features of real images, report test-split accuracy (linear
    probe, k-NN; InfoGAN codes: clustering accuracy and NMI), each beside the same probe on raw
    pixels. Writes probe.json in the run directory. The labels are used only by the probes."""
    from knowgen.config import read_config
    from knowgen.represent.probe import probe_run

    data_cfg = None
    if data:
        if not (run_dir / "config.toml").is_file():
            raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory (no config.toml)")
        data_cfg = run_data(read_config(run_dir / "config.toml"), data, "train")
    report = probe_run(
        run_dir,
        data_cfg,
        n_train,
        features,
        progress=lambda message: typer.echo(message, err=True),
    )
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))
