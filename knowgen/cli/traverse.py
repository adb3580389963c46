"""`knowgen traverse`: what one InfoGAN code controls, as a picture."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.images import display_scale, label_grid_file, save_grid, to_uint8
from knowgen.models.codes import traverse_code
from knowgen.sampling import load

NAME = "traverse"


@reports_user_errors
def command(
    source: Path = typer.Argument(..., help="A run directory or an export folder."),
    code: str = typer.Option("c1", help="The code to vary: c1, c2, ... (see `knowgen info`)."),
    samples: int = typer.Option(
        8, min=1, max=1000, help="Columns: draws of the noise and of the other codes."
    ),
    steps: int = typer.Option(
        9, min=2, max=1000, help="Rows for a continuous code (categorical: one per value)."
    ),
    span: float = typer.Option(2.0, help="A continuous code goes from -SPAN to SPAN (std units)."),
    seed: int = typer.Option(0, min=0, max=2**63 - 1, help="Noise seed."),
    out: Path = typer.Option(None, help="PNG to write (default: traverse-CODE.png)."),
    scale: int = typer.Option(None, min=1, max=64, help="Enlarge each image this many times."),
) -> None:
    """Write a grid where each row sets CODE to one value and each column holds everything else
    fixed, so you see what the code learned."""
    if not 0 < span <= 10:  # NaN fails this too
        raise ValueError(f"--span must be in (0, 10] standard deviations, got {span}")
    generator = load(source)
    if not generator.codes:
        raise ValueError(
            f"{source} has no InfoGAN codes; train with the infogan preset (or set "
            "model.info_categorical / model.info_continuous)"
        )
    images, labels = traverse_code(generator.network, code, samples, steps, span, seed)
    images = to_uint8(images)
    out = out or Path(f"traverse-{code}.png")
    scale = scale or display_scale(images.shape[-1])
    save_grid(images, out, nrow=samples, scale=scale)
    label_grid_file(out, labels, images.shape[-2] * scale)
    typer.echo(f"wrote {out} ({len(labels)} values of {code} x {samples} samples)")
