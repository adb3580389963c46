"""`knowgen evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.train import data_overrides
from knowgen.config import apply_overrides, build_config
from knowgen.files import atomic_write_text

NAME = "evaluate"


def format_table(scores: dict) -> str:
    """Human-readable metric table (lower is better for FID/KID, higher for the rest)."""
    rows = [
        ("FID (evaluator features) v", f"{scores['fid']:.3f}"),
        ("KID x 1000 v", f"{1000 * scores['kid']:.3f} +- {1000 * scores['kid_std']:.3f}"),
        ("Inception Score ^", f"{scores['is']:.3f} +- {scores['is_std']:.3f}"),
        ("precision ^ / recall ^", f"{scores['precision']:.3f} / {scores['recall']:.3f}"),
        ("density ^ / coverage ^", f"{scores['density']:.3f} / {scores['coverage']:.3f}"),
        ("classes covered (>= 1%)", f"{scores['modes_covered']}"),
        ("class entropy (1 = even)", f"{scores['class_entropy']:.3f}"),
        (
            "samples / reference",
            f"{scores['num_samples']} / {scores['num_reference']} "
            f"({scores['reference_split']} split)",
        ),
        (
            "evaluator (test accuracy)",
            f"{scores['evaluator']} ({100 * scores['evaluator_test_accuracy']:.2f}%)",
        ),
    ]
    if "conditional_accuracy" in scores:
        rows.insert(-2, ("conditional accuracy ^", f"{100 * scores['conditional_accuracy']:.2f}%"))
        if scores.get("intra_fid") is not None:
            rows.insert(-2, ("intra-class FID v (mean)", f"{scores['intra_fid']:.3f}"))
    if "heldout_conditional_accuracy" in scores:  # a text generator on unseen phrasings
        held = 100 * scores["heldout_conditional_accuracy"]
        rows.insert(-2, ("accuracy, held-out phrasings ^", f"{held:.2f}%"))
        rows.insert(-2, ("FID, held-out phrasings v", f"{scores['heldout_fid']:.3f}"))
        for key, what in (("word", "unseen words"), ("template", "unseen sentence frames")):
            value = scores.get(f"heldout_{key}_accuracy")
            if value is not None:
                rows.insert(-2, (f"  accuracy, {what} ^", f"{100 * value:.2f}%"))
            grounded = scores.get(f"heldout_{key}_accuracy_grounded")
            if grounded is not None:
                rows.insert(
                    -2,
                    ("  ... as prompts, read as sample() reads them ^", f"{100 * grounded:.2f}%"),
                )
    factors = [k.removeprefix("factor_").removesuffix("_ceiling")
               for k in scores if k.startswith("factor_") and k.endswith("_ceiling")]  # fmt: skip
    for prefix, what in (("", "all given"), ("heldout_", "held-out pairs")):  # a fusion generator
        if f"{prefix}class_accuracy" not in scores:  # only fusion scores carry these keys
            continue
        for key, name, form in (
            ("class_accuracy", "class accuracy ^", "{:.2%}"),
            ("hue_error_median", "hue error v (median)", "{:.1f} deg"),
            ("structure_iou", "structure IoU ^", "{:.3f}"),
            ("joint_accuracy", "joint ^", "{:.2%}"),
        ):
            if prefix + key in scores:
                rows.insert(-2, (f"{what}: {name}", form.format(scores[prefix + key])))
        for factor in factors:  # shapes: size, position, rotation; emoji: style
            value = scores.get(f"{prefix}factor_{factor}_accuracy")
            if value is not None:
                ceiling = scores[f"factor_{factor}_ceiling"]
                rows.insert(-2, (f"{what}: {factor} ^ (real: {ceiling:.1%})", f"{value:.2%}"))
        if prefix and f"{prefix}fid" in scores:
            rows.insert(-2, (f"{what}: FID v", f"{scores[prefix + 'fid']:.3f}"))
    for kind in ("class", "text", *factors):  # each kind given alone
        for key, name in (("class_accuracy", "class"), ("colour_accuracy", "colour"),
                          *((f"factor_{f}_accuracy", f) for f in factors)):  # fmt: skip
            value = scores.get(f"{kind}_alone_{key}")
            if value is not None:
                rows.insert(-2, (f"{kind} alone: {name} ^", f"{value:.2%}"))
    if "inception_fid" in scores:
        rows.insert(1, ("FID (Inception-v3)", f"{scores['inception_fid']:.3f}"))
    if "cas" in scores:
        rows.insert(-2, ("CAS: trained on generated ^", f"{scores['cas']:.2%}"))
        rows.insert(-2, ("  same, trained on real", f"{scores['cas_real']:.2%}"))
    if "eval_seconds" in scores:
        rows.append(("time", f"{scores['eval_seconds']:.1f} s"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


UNLABELLED_NOTE = (
    "evaluator FID, IS, class coverage and accuracy: they need a classifier of labelled images"
)


def format_inception_table(scores: dict) -> str:
    """The label-free metrics (Inception features) and what was skipped."""
    rows = [
        ("FID (Inception-v3) v", f"{scores['inception_fid']:.3f}"),
        (
            "KID x 1000 (Inception) v",
            f"{1000 * scores['inception_kid']:.3f} +- {1000 * scores['inception_kid_std']:.3f}",
        ),
        (
            "precision ^ / recall ^",
            f"{scores['inception_precision']:.3f} / {scores['inception_recall']:.3f}",
        ),
        (
            "density ^ / coverage ^",
            f"{scores['inception_density']:.3f} / {scores['inception_coverage']:.3f}",
        ),
        ("samples / reference", f"{scores['num_samples']} / {scores['num_reference']}"),
        ("time", f"{scores['inception_seconds']:.1f} s"),
        ("skipped", scores["skipped"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


@reports_user_errors
def command(
    source: Path = typer.Argument(..., help="A run directory or an export folder."),
    n: int = typer.Option(
        None, "--n", min=10, help="Samples to judge (default: eval.num_samples)."
    ),
    split: str = typer.Option(
        None, help="Real split to compare with: train or test (default: the run's eval.split)."
    ),
    data: str = typer.Option(None, help="Judge against this dataset instead of the run's."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override data.*, knowledge.* (e.g. knowledge.guidance) or eval.* keys."
    ),
    inception_weights: Path = typer.Option(
        None,
        help="pt_inception-2015-12-05-6726825d.pth: also report FID, KID and precision/recall "
        "in standard Inception-v3 features (slow on CPU; consider a smaller --n); for images "
        "without labels, these are the metrics.",
    ),
    inception_convention: str = typer.Option(
        "tf1",
        help="How images reach Inception: tf1 (the original TF FID graph's resize and scaling, "
        "as torch-fidelity and torchmetrics) or pytorch-fid.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    cas: bool = typer.Option(
        False,
        "--cas",
        help="Also the Classification Accuracy Score: a classifier trained on --n generated "
        "images only, tested on real ones, beside the same classifier trained on real images "
        "(about a CPU minute per 10,000 images).",
    ),
) -> None:
    """Judge a generator with the dataset's evaluator network; writes eval.json beside it.

    The evaluator is a classifier shipped with knowgen (fashion-mnist, fashion-mnist-color,
    shapes) or trained once by its recipe and cached; the real split's features are computed on
    first need and cached. Images without labels are judged in Inception features only.
    """
    from knowgen.metrics.evaluate import evaluate_generator, evaluate_inception, has_labels
    from knowgen.sampling import load

    generator = load(source)
    raw = {s: dict(generator.meta.get(s) or {}) for s in ("model", "knowledge", "data")}
    overrides = list(set_)
    overrides += data_overrides(data) if data else []
    overrides += [f"eval.num_samples={n}"] if n is not None else []
    split = split or generator.meta.get("reference_split")  # as the run was judged
    overrides += [f'eval.split="{split}"'] if split else []
    cfg = build_config(apply_overrides(raw, overrides))
    labelled = has_labels(cfg.data)
    if not labelled and inception_weights is None:
        raise ValueError(
            "these images have no labels (no class sub-folders), so knowgen's evaluator, a "
            "classifier, cannot learn them; give --inception-weights "
            "pt_inception-2015-12-05-6726825d.pth for FID, KID and precision/recall in Inception "
            "features (the metrics that need classes are skipped)"
        )
    scores = {}
    if labelled:
        scores = evaluate_generator(generator, cfg.data, cfg.eval, knowledge=cfg.knowledge)
    if inception_weights is not None:
        scores = (
            evaluate_inception(
                generator, cfg.data, cfg.eval, inception_weights, inception_convention
            )
            | scores
        )
    if cas:
        if not labelled:
            raise ValueError("--cas trains a classifier: it needs images with labels")
        from knowgen.metrics.cas import classification_accuracy_score

        scores |= classification_accuracy_score(
            generator, cfg.data, cfg.eval.num_samples, cfg.eval.seed
        )
    if not labelled:
        scores["skipped"] = UNLABELLED_NOTE
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
    else:
        typer.echo(format_table(scores) if labelled else format_inception_table(scores))
    folder = source if source.is_dir() else source.parent  # written after the figures are shown:
    atomic_write_text(folder / "eval.json", json.dumps(scores, indent=2) + "\n")  # never lost
