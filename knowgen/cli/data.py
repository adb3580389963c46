"""`knowgen data fetch emoji`: bring a dataset that lives in a package registry to this machine,
once, with its integrity checked; training never touches the network."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors

NAME = "data"

app = typer.Typer(help="Datasets fetched once from a package registry (npm).", no_args_is_help=True)

FETCHABLE = ("emoji",)


@app.command("fetch")
@reports_user_errors
def fetch_command(
    dataset: str = typer.Argument(..., help="What to fetch: emoji (Noto + Twemoji, 2 x ~70 MB)."),
    from_: Path = typer.Option(
        None,
        "--from",
        help="A folder that already holds the tarballs (from `npm pack NAME@VERSION`): "
        "checked and copied, no network.",
    ),
) -> None:
    """Fetch DATASET's pinned tarballs with `npm pack`, check each against the registry's
    SHA-512 pinned in knowgen, keep them in knowgen's data folder and decode them once."""
    from knowgen.data import emoji
    from knowgen.data.npm import fetch_packages

    if dataset not in FETCHABLE:
        raise ValueError(f"nothing to fetch for {dataset!r}; fetchable: {', '.join(FETCHABLE)}")
    if from_ is not None and not from_.is_dir():
        raise FileNotFoundError(f"--from {str(from_)!r} is not a folder")
    paths = fetch_packages(list(emoji.PACKAGES.values()), emoji.emoji_folder(), from_)
    arrays = emoji.cached_arrays()
    for style, path in zip(emoji.PACKAGES, paths, strict=True):
        typer.echo(f"{style}: {path} ({emoji.LICENCES[style]})")
    typer.echo(
        f"emoji: {len(arrays['images'])} images of {len(emoji.emoji_table().codes)} emoji ready; "
        "train with `knowgen train --preset emoji`"
    )
