"""`knowgen export`."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.sampling import export_generator

NAME = "export"


@reports_user_errors
def command(
    run_dir: Path = typer.Argument(..., help="The run directory to export from."),
    out: Path = typer.Option(None, help="Export folder (default: RUN_DIR/export)."),
) -> None:
    """Write the EMA generator as safetensors + JSON: shareable, loadable without pickle."""
    folder = export_generator(run_dir, out)
    typer.echo(f"exported generator to {folder}; try: knowgen sample {folder} --out grid.png")
