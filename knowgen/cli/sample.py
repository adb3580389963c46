"""`knowgen sample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.export import generate, load_generator_and_meta
from knowgen.images import display_scale, save_grid

NAME = "sample"


@reports_user_errors
def command(
    source: Path = typer.Argument(..., help="A run directory or an export folder."),
    n: int = typer.Option(64, "--n", help="Number of images."),
    out: Path = typer.Option(Path("samples.png"), help="PNG grid to write."),
    npy: Path = typer.Option(None, help="Also write the uint8 images (N, C, H, W) as .npy."),
    seed: int = typer.Option(0, help="Noise seed; the same seed gives the same images."),
    nrow: int = typer.Option(None, help="Images per grid row (default: square)."),
    scale: int = typer.Option(None, help="Enlarge each image this many times in the grid."),
    by_class: int = typer.Option(
        None,
        help="Sort into one row per class as the dataset's evaluator sees them, this many per "
        "row (the first ones of --n samples; nothing is picked by quality).",
    ),
) -> None:
    """Generate images from a trained generator (EMA weights) without unpickling anything."""
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    generator, meta = load_generator_and_meta(source)
    images = generate(generator, n, seed=seed)
    scale = scale or display_scale(images.shape[-1])
    if by_class:
        write_class_rows(meta, images, by_class, out, scale)
    else:
        save_grid(images, out, nrow=nrow, scale=scale)
    typer.echo(f"wrote {n} samples to {out}")
    if npy is not None:
        np.save(npy, images.numpy())
        typer.echo(f"wrote {tuple(images.shape)} uint8 array to {npy}")


def write_class_rows(meta: dict, images, per_class: int, out: Path, scale: int) -> None:
    """One row per evaluator class, labelled, for unconditional generators."""
    from PIL import Image

    from knowgen.config import section_from_dict
    from knowgen.data import DataConfig
    from knowgen.images import arrange_by_class, label_rows
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features

    evaluator = load_or_train_evaluator(section_from_dict(DataConfig, meta["data"], "data"))
    predicted = extract_features(evaluator, images).logits.argmax(1)
    names = evaluator.class_names
    rows = arrange_by_class(images, predicted, len(names), per_class)
    save_grid(rows, out, nrow=per_class, scale=scale)
    counts = [int((predicted == c).sum()) for c in range(len(names))]
    labels = [f"{name} ({count})" for name, count in zip(names, counts, strict=True)]
    with Image.open(out) as picture:
        labelled = label_rows(picture.copy(), labels, images.shape[-2] * scale, pad=2)
    labelled.save(out)
