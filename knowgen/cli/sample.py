"""`knowgen sample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.export import generate, load_generator
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
) -> None:
    """Generate images from a trained generator (EMA weights) without unpickling anything."""
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    generator = load_generator(source)
    images = generate(generator, n, seed=seed)
    save_grid(images, out, nrow=nrow, scale=scale or display_scale(images.shape[-1]))
    typer.echo(f"wrote {n} samples to {out}")
    if npy is not None:
        np.save(npy, images.numpy())
        typer.echo(f"wrote {tuple(images.shape)} uint8 array to {npy}")
