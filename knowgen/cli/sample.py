"""`knowgen sample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.export import conditioned_classes, generate, load_generator_and_meta
from knowgen.images import display_scale, save_grid
from knowgen.knowledge import class_index

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
        help="One labelled row per class, this many images each. Conditional generators are "
        "asked for each class; unconditional ones have their first --n samples sorted by what "
        "the dataset's evaluator sees (nothing is picked by quality).",
    ),
    class_: list[str] = typer.Option(
        [],
        "--class",
        help="Conditional generators: the class to draw, by name or index (repeat for one row "
        "per class, --n images each).",
    ),
) -> None:
    """Generate images from a trained generator (EMA weights) without unpickling anything."""
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    generator, meta = load_generator_and_meta(source)
    conditional = conditioned_classes(generator) > 0
    if class_ and not conditional:
        raise ValueError(
            f"{source} is an unconditional generator; --class needs one trained with "
            "model.condition='class' (e.g. the cgan preset). --by-class sorts unconditional "
            "samples by the evaluator's verdict instead."
        )
    names = generator.class_names
    if class_ or (by_class and conditional):
        wanted = [class_index(c, names) for c in class_] or list(range(len(names)))
        per_class = n if class_ else by_class
        images = write_given_class_rows(generator, wanted, per_class, seed, out, scale)
        typer.echo(f"wrote {per_class} samples of each of {len(wanted)} class(es) to {out}")
    else:
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


def write_given_class_rows(
    generator, classes: list[int], per_class: int, seed: int, out: Path, scale: int | None
):
    """One row per requested class of a conditional generator, labelled with the class name;
    returns the images (class-major order)."""
    import torch

    given = torch.tensor(classes).repeat_interleave(per_class)
    images = generate(generator, len(given), seed=seed, classes=given)
    scale = scale or display_scale(images.shape[-1])
    save_grid(images, out, nrow=per_class, scale=scale)
    labels = [generator.class_names[c] for c in classes]
    write_row_labels(out, labels, images.shape[-2] * scale)
    return images


def write_row_labels(out: Path, labels: list[str], row_height: int) -> None:
    """Rewrite the grid PNG at `out` with a label before each row."""
    from PIL import Image

    from knowgen.images import label_rows

    with Image.open(out) as picture:
        labelled = label_rows(picture.copy(), labels, row_height, pad=2)
    labelled.save(out)


def write_class_rows(meta: dict, images, per_class: int, out: Path, scale: int) -> None:
    """One row per evaluator class, labelled, for unconditional generators."""
    from knowgen.config import section_from_dict
    from knowgen.data import DataConfig
    from knowgen.images import arrange_by_class
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features

    evaluator = load_or_train_evaluator(section_from_dict(DataConfig, meta["data"], "data"))
    predicted = extract_features(evaluator, images).logits.argmax(1)
    names = evaluator.class_names
    rows = arrange_by_class(images, predicted, len(names), per_class)
    save_grid(rows, out, nrow=per_class, scale=scale)
    counts = [int((predicted == c).sum()) for c in range(len(names))]
    labels = [f"{name} ({count})" for name, count in zip(names, counts, strict=True)]
    write_row_labels(out, labels, images.shape[-2] * scale)
