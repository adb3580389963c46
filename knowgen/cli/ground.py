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
    ("frock -> dress.n.01 -> class dress"), and the prompt a text model reads after grounding."""
    from knowgen.data import DATASETS
    from knowgen.knowledge.grounding import CLASS_SYNSETS, build_prompt_grounder, reviewed_synsets

    if run is not None:
        from knowgen.generator_files import read_generator_source

        meta, _ = read_generator_source(run)
        data, class_names = (meta.get("data") or {}).get("name", ""), list(meta["class_names"])
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
    for prompt in prompts:
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
