"""`knowgen represent`: export what a run's discriminator sees in real images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.train import data_overrides
from knowgen.config import RunConfig, apply_overrides, build_config, config_to_dict
from knowgen.data import DataConfig, load_dataset
from knowgen.files import atomic_write_npy

NAME = "represent"


def run_data(run_cfg: RunConfig, data: str | None, split: str) -> DataConfig:
    """The run's dataset settings, or `--data NAME|PATH` in their place, at `split`."""
    if split not in ("train", "test"):
        raise ValueError(f"--split must be train or test, got {split!r}")
    cfg = run_cfg
    if data:
        raw = {"data": config_to_dict(run_cfg)["data"]}
        cfg = build_config(apply_overrides(raw, data_overrides(data)))
    return replace(cfg.data, split=split)


@reports_user_errors
def command(
    run_dir: Path = typer.Argument(..., help="A run directory (its newest checkpoint is read)."),
    out: Path = typer.Option(Path("features.npy"), help="Features (N, F) float32 to write."),
    data: str = typer.Option(None, help="Dataset name or image folder (default: the run's)."),
    split: str = typer.Option("test", help="train or test."),
    n: int = typer.Option(None, "--n", min=1, help="Only the first N images."),
) -> None:
    """Write D-trunk features of real images to OUT; beside it OUT.labels.npy (when the data
    has labels) and OUT.codes.npy (InfoGAN runs: each categorical code's argmax, then the
    continuous codes' predicted means)."""
    from knowgen.represent.features import discriminator_features, load_run_models

    models = load_run_models(run_dir)
    dataset = load_dataset(run_data(models.cfg, data, split))
    if tuple(dataset.image_shape) != models.image_shape:
        raise ValueError(
            f"the data's images are {dataset.image_shape}, the run was trained on "
            f"{models.image_shape}"
        )
    images = dataset.images[:n] if n else dataset.images
    features, codes = discriminator_features(models.discriminator, images)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_npy(out, features)
    written = [f"{out} {features.shape}"]
    if dataset.labels is not None:
        labels_path = out.with_suffix(".labels.npy")
        atomic_write_npy(labels_path, dataset.labels[: len(images)].numpy())
        written.append(str(labels_path))
    if codes is not None:
        codes_path = out.with_suffix(".codes.npy")
        atomic_write_npy(codes_path, codes)
        written.append(f"{codes_path} {codes.shape}")
    typer.echo("wrote " + ", ".join(written))
