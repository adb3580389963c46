"""`knowgen invert`: map images back to the generator's latent space and redraw them."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.represent import run_data
from knowgen.data import load_dataset
from knowgen.images import display_scale, label_grid_file, save_grid, to_float, to_uint8

NAME = "invert"


@reports_user_errors
def command(
    run_dir: Path = typer.Argument(..., help="A run directory (its newest checkpoint is read)."),
    images: list[Path] = typer.Argument(None, help="Image files to invert (default: --data)."),
    data: str = typer.Option(None, help="Dataset name or image folder (default: the run's)."),
    split: str = typer.Option("test", help="train or test, when inverting dataset images."),
    n: int = typer.Option(16, "--n", min=1, max=10_000, help="How many dataset images to invert."),
    steps: int = typer.Option(3000, min=1, help="Encoder training steps (first use only)."),
    out: Path = typer.Option(Path("invert.png"), help="PNG: originals above, G(E(x)) below."),
) -> None:
    """Reconstruct images as G(E(x)) with an inversion encoder trained on generated pairs
    (trained on first use, saved in the run directory, reused afterwards)."""
    from knowgen.data.folder import decode_image
    from knowgen.represent.encoder import EncoderRecipe, load_or_train_encoder, reconstruct
    from knowgen.represent.features import load_run_models

    models = load_run_models(run_dir)
    channels, side, _ = models.image_shape
    classes = None
    if images:
        for path in images:
            if not path.is_file():
                raise FileNotFoundError(f"image {str(path)!r} does not exist")
        originals = torch.stack(
            [torch.from_numpy(decode_image(p, side, channels).copy()) for p in images]
        )
    else:
        dataset = load_dataset(run_data(models.cfg, data, split))
        originals = dataset.images[:n]
        classes = dataset.labels[:n] if dataset.labels is not None else None
    encoder = load_or_train_encoder(
        run_dir, models.generator, models.image_shape, models.step, EncoderRecipe(steps=steps)
    )
    redrawn = reconstruct(encoder, models.generator, originals, classes)
    error = float(((redrawn - to_float(originals)) ** 2).mean())
    scale = display_scale(side)
    save_grid(torch.cat([originals, to_uint8(redrawn)]), out, nrow=len(originals), scale=scale)
    label_grid_file(out, ["x", "G(E(x))"], side * scale)
    typer.echo(f"wrote {out}: {len(originals)} images; mean squared error {error:.4f} in [-1, 1]")
