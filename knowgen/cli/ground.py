"""`knowgen ground`."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors

NAME = "ground"


@reports_user_errors
def command(
    prompts: list[str] = typer.Argument(..., help="Prompts (or single words) to ground."),
    data: str = typer.Option("fashion-mnist", help="The dataset whose classes to ground in."),
    run: Path = typer.Option(None, help="Ground in this run's classes (and show its rewrite)."),
) -> None:
    """Show how WordNet grounds each word of a prompt in the dataset's classes, by which path
    ("frock -> dress.n.01 -> class dress"), the prompt a text model reads after grounding, and
    the class it reaches, how sure, and the training phrasing it is read as."""
    from knowgen.data import DATASETS
    from knowgen.knowledge.grounding import CLASS_SYNSETS, build_prompt_grounder, reviewed_synsets

    generator = None
    if run is not None:
        from knowgen import load

        generator = load(run)  # read once: its classes here, its reading of each prompt below
        data = (generator.meta.get("data") or {}).get("name", "")
        class_names = generator.class_names
    elif data not in DATASETS:
        raise ValueError(f"unknown dataset {data!r}; choose from {', '.join(sorted(DATASETS))}")
    else:
        class_names = list(reviewed_synsets(data) or {})
    if reviewed_synsets(data) is None:
        raise ValueError(
            f"no reviewed WordNet synsets for the classes of {data!r}; grounding covers "
            f"{', '.join(sorted(CLASS_SYNSETS))}"
        )
    grounder = build_prompt_grounder(class_names, data)
    readings = read_prompts(prompts, generator, class_names, data)
    for prompt, reading in zip(prompts, readings, strict=True):
        rewritten, used = grounder.explain(prompt)
        typer.echo(prompt)
        groundings = grounder.grounder.ground_prompt(prompt)
        for grounding in groundings:
            known = grounding not in used
            note = " (a caption word: left to the sentence encoder)" if known else ""
            typer.echo(f"  {grounding.describe()}{note}")
        if not groundings:
            typer.echo("  no word grounds in a class")
        typer.echo(f"  the text model reads: {rewritten!r}")
        if reading is not None:
            typer.echo(f"  it reaches {reading.describe()}")


def read_prompts(prompts: list[str], generator, class_names: list[str], data: str):
    """What each prompt reaches in a text model (the run's `generator`, or one trained on
    `data`'s class captions), or Nones with one note where the text extra is not installed:
    grounding needs only WordNet."""
    from knowgen.knowledge.config import DEFAULT_TEXT_MODEL
    from knowgen.knowledge.prompt_reading import class_bank_reader
    from knowgen.knowledge.text import MissingExtraError

    try:
        if generator is not None and generator.reader is not None:
            return generator.read_text(prompts)
        return class_bank_reader(class_names, data, DEFAULT_TEXT_MODEL).read(prompts)
    except MissingExtraError as err:
        typer.echo(f"(which class each prompt reaches, and how sure, needs the encoder: {err})")
        return [None] * len(prompts)
