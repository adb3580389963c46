"""`knowgen presets`."""

from __future__ import annotations

import typer

from knowgen.config import DEFAULT_PRESET, list_presets

NAME = "presets"


def command() -> None:
    """List the shipped presets with a one-line description each."""
    presets = list_presets()
    width = max(map(len, presets))
    for name, description in presets.items():
        marker = " (default)" if name == DEFAULT_PRESET else ""
        typer.echo(f"{name:<{width}}  {description}{marker}")
