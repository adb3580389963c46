"""`knowgen evaluator train DATASET`: train a dataset's evaluator afresh by knowgen's recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.train import data_overrides

NAME = "evaluator"

app = typer.Typer(
    help="The evaluator networks that judge generators (FID features, class accuracy).",
    no_args_is_help=True,
)


@app.command("train")
@reports_user_errors
def train_command(
    data: str = typer.Argument(..., help="Dataset name or image folder (with class sub-folders)."),
    set_: list[str] = typer.Option([], "--set", help="data.* keys, e.g. data.image_size=32."),
    out: Path = typer.Option(
        None,
        help="Folder for <key>.safetensors and .json (default: the cache, where evaluation looks "
        "after the shipped ones; knowgen/metrics/evaluators ships it with the package).",
    ),
) -> None:
    """Train the evaluator of DATASET afresh by knowgen's recipe (whatever is cached or shipped)
    and print its test accuracy; float16 weights, a JSON record beside them."""
    from knowgen.cache import cache_dir
    from knowgen.config import apply_overrides, build_config
    from knowgen.metrics.evaluator import load_or_train_factor_classifiers, train_evaluator

    cfg = build_config(apply_overrides({}, data_overrides(data) + list(set_)))
    folder = out if out is not None else cache_dir("evaluators")
    evaluator, record = train_evaluator(cfg.data, folder)
    if not (folder / f"{evaluator.key}.safetensors").is_file():  # the warning above says why
        raise ValueError(f"the evaluator could not be written to {folder}")
    typer.echo(
        f"evaluator {evaluator.key}: test accuracy {100 * evaluator.test_accuracy:.2f}% after "
        f"{record['train_seconds']:.0f} s -> {folder / evaluator.key}.safetensors"
    )
    for factor, judge in load_or_train_factor_classifiers(cfg.data, folder).items():
        typer.echo(f"  {factor} classifier {judge.key}: {100 * judge.test_accuracy:.2f}%")
