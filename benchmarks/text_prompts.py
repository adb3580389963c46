"""Held-out prompts: what a 10-minute `text` model draws for prompts no caption uses.

The prompts (benchmarks/prompts/fashion-heldout.csv, set A, and fashion-heldout-b.csv, set B;
3 per class each) were written before they were measured and name their class by no noun phrase of
the caption bank; nothing in training reads them. Set A was judged first; set B was written
after, before the grounding changes made from A's misses were measured on it. Each training
seed's `text` run is asked for every prompt (`--per-prompt` images, noise seed 0), read four ways
on the same generator and noise:

- `encoder`: the sentence encoder's embedding of the prompt as it is;
- `grounded`: WordNet grounding first (unseen words that name a class become its caption word);
- `anchored`: the encoder's embedding replaced by the nearest training phrasing's;
- `grounded+anchored`: both, what `sample(text=...)` does by default.

Accuracy: the share of images the Fashion-MNIST evaluator assigns to the prompt's class; per
class over its three prompts; mean (min-max) over training seeds. Beside it, the class each prompt
*reached* (`Generator.read_text`) and how sure the reading was.

    python benchmarks/text_prompts.py --seeds 0 1 2 --minutes 10 --write-docs
    python benchmarks/text_prompts.py --prompts benchmarks/prompts/fashion-heldout-b.csv ...
    python benchmarks/text_prompts.py --calibrate      # the reading's temperature, no training
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_rows, spread, write_rows  # noqa: E402
from benchmarks.machine import describe_machine, section_intro, write_section  # noqa: E402
from benchmarks.probe import timed_settings  # noqa: E402

PROMPTS = Path(__file__).parent / "prompts" / "fashion-heldout.csv"
RESULTS = Path("benchmarks/results/text-prompts")
MODES = ("encoder", "grounded", "anchored", "grounded+anchored")
DEFAULT_MODE = "grounded+anchored"
FIELDS = ["seed", "steps", "mode", "class", "prompt", "accuracy", "reached", "confidence"]
TARGET, CLASS_FLOOR = 0.90, 0.75


def read_prompts(path: Path = PROMPTS) -> list[tuple[str, str]]:
    """(class, prompt) rows of the held-out prompt file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["class"], row["prompt"]) for row in csv.DictReader(handle)]


def trained_run(seed: int, minutes: float, runs: Path) -> tuple[Path, int]:
    """The `text` run of `seed` (trained for `minutes` unless it exists) and its steps."""
    from knowgen.checkpoint import latest_checkpoint
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    run = runs / f"seed-{seed}"
    if latest_checkpoint(run) is None:
        cfg = resolve_config("text", [*timed_settings(minutes), f"train.seed={seed}"])
        train(cfg, run, overwrite=True)
    step = int(latest_checkpoint(run).stem.split("-")[-1])
    return run, step


def judge(run: Path, prompts: list[tuple[str, str]], per_prompt: int) -> list[dict]:
    """Accuracy of every prompt under every reading, and what each prompt reached."""
    import knowgen
    from knowgen.data import DataConfig
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features

    generator = knowgen.load(run)
    readings = generator.read_text([p for _, p in prompts])
    default = generator.context
    contexts = {
        "encoder": dataclasses.replace(default, rewrite_text=None, anchor_text=None),
        "grounded": dataclasses.replace(default, anchor_text=None),
        "anchored": dataclasses.replace(default, rewrite_text=None),
        "grounded+anchored": default,
    }
    evaluator = load_or_train_evaluator(DataConfig(name="fashion-mnist"))
    rows = []
    for mode, context in contexts.items():
        generator.context = context
        for (name, prompt), reading in zip(prompts, readings, strict=True):
            images = generator.sample(per_prompt, 0, text=prompt).images
            predicted = extract_features(evaluator, images).logits.argmax(1)
            truth = generator.class_names.index(name)
            accuracy = float((predicted == truth).double().mean())
            rows.append(
                {
                    "mode": mode,
                    "class": name,
                    "prompt": prompt,
                    "accuracy": accuracy,
                    "reached": reading.class_name,
                    "confidence": reading.confidence,
                }
            )
    generator.context = default
    return rows


def calibrate() -> None:
    """The reading's probability at several temperatures, on the caption bank's own held-out
    phrasings (never on the prompt file): negative log-likelihood, mean confidence, accuracy."""
    import torch

    from knowgen.data.datasets import FASHION_MNIST_CLASSES
    from knowgen.knowledge import prompt_reading
    from knowgen.knowledge.captions import class_caption_bank
    from knowgen.knowledge.text import SentenceEmbedder, TextConditions, cached_embeddings

    names = list(FASHION_MNIST_CLASSES)
    bank = class_caption_bank(names, "fashion-mnist")
    pooled = cached_embeddings(SentenceEmbedder(), bank.captions)["pooled"]
    anchor = prompt_reading.CaptionAnchor.of_conditions(TextConditions(bank, pooled), names)
    held = bank.held_out.nonzero().flatten()
    truth = bank.caption_class[held]
    print(f"{len(held)} held-out phrasings of the bank")
    for temperature in (0.02, 0.03, 0.035, 0.04, 0.05, 0.08):
        prompt_reading.TEMPERATURE = temperature
        p = anchor.class_probabilities(anchor.cosines(pooled[held]))
        nll = -torch.log(p[torch.arange(len(held)), truth].clamp_min(1e-12)).mean()
        print(
            f"T={temperature}: NLL {float(nll):.3f}, mean confidence "
            f"{float(p.max(1).values.mean()):.3f}, accuracy "
            f"{float((p.argmax(1) == truth).double().mean()):.3f}"
        )


def per_class(rows: list[dict], mode: str) -> dict[str, dict[int, float]]:
    """{class: {seed: mean accuracy over its prompts}} for one reading."""
    table: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        if row["mode"] == mode:
            table.setdefault(row["class"], {}).setdefault(row["seed"], []).append(row["accuracy"])
    return {c: {s: statistics.mean(v) for s, v in seeds.items()} for c, seeds in table.items()}


def overall(rows: list[dict], mode: str) -> dict[int, float]:
    """{seed: mean accuracy over every prompt} for one reading."""
    seeds: dict[int, list[float]] = {}
    for row in rows:
        if row["mode"] == mode:
            seeds.setdefault(row["seed"], []).append(row["accuracy"])
    return {s: statistics.mean(v) for s, v in seeds.items()}


def confidence_line(rows: list[dict], sure: float = 0.8) -> str:
    """Whether the reading's confidence tells a person when to rephrase: how often prompts read
    with confidence >= `sure`, and below it, reached the right class (over seeds)."""
    read = [r for r in rows if r["mode"] == DEFAULT_MODE]
    confident = [r for r in read if r["confidence"] >= sure]
    unsure = [r for r in read if r["confidence"] < sure]

    def right(group: list[dict]) -> str:
        hits = sum(r["reached"] == r["class"] for r in group)
        return f"{hits} of {len(group)} reached their class"

    return (
        f"The reading's confidence (all seeds' readings): >= {sure}: {right(confident)}; "
        f"below: {right(unsure)}."
    )


def summary(rows: list[dict]) -> str:
    """The docs section's Markdown: every reading over seeds, the default per class against the
    targets, and each prompt's reading."""
    seeds = sorted({r["seed"] for r in rows})
    steps = {r["seed"]: r["steps"] for r in rows}
    lines = [
        "| reading | all prompts, mean of seeds (min–max) | per seed |",
        "| --- | ---: | --- |",
    ]
    for mode in MODES:
        by_seed = overall(rows, mode)
        values = [by_seed[s] for s in seeds]
        cells = ", ".join(f"{100 * v:.1f}%" for v in values)
        lines.append(f"| `{mode}` | {spread(values, 100, 1, '%')} | {cells} |")
    classes = per_class(rows, DEFAULT_MODE)
    lines += [
        "",
        f"Per class, `{DEFAULT_MODE}` (each class: its 3 prompts):",
        "",
        "| class | accuracy, mean (min–max) | worst seed |",
        "| --- | ---: | ---: |",
    ]
    for name, by_seed in classes.items():
        values = [by_seed[s] for s in seeds]
        lines.append(f"| {name} | {spread(values, 100, 1, '%')} | {100 * min(values):.1f}% |")
    mean = statistics.mean(overall(rows, DEFAULT_MODE).values())
    worst = min(statistics.mean(by_seed.values()) for by_seed in classes.values())
    lines += ["", confidence_line(rows)]
    lines += [
        "",
        f"Targets: all prompts >= {100 * TARGET:.0f}% (mean of seeds): **{100 * mean:.1f}%, "
        f"{'met' if mean >= TARGET else 'NOT met'}**; every class >= {100 * CLASS_FLOOR:.0f}% "
        f"(mean of seeds): **worst class {100 * worst:.1f}%, "
        f"{'met' if worst >= CLASS_FLOOR else 'NOT met'}**.",
        "",
        "Each prompt, `grounded+anchored`: the class it reached, how sure, and the images' "
        "accuracy (mean over seeds):",
        "",
        "| prompt | class | reached (confidence, seed 0) | accuracy |",
        "| --- | --- | --- | ---: |",
    ]
    first = seeds[0]
    for row in rows:
        if row["mode"] == DEFAULT_MODE and row["seed"] == first:
            same = [
                r["accuracy"]
                for r in rows
                if r["mode"] == DEFAULT_MODE and r["prompt"] == row["prompt"]
            ]
            lines.append(
                f"| {row['prompt']} | {row['class']} | {row['reached']} "
                f"({row['confidence']:.2f}) | {100 * statistics.mean(same):.1f}% |"
            )
    lines += [
        "",
        "Steps in 10 minutes per seed: "
        + ", ".join(f"seed {s}: {steps[s]:,}" for s in seeds)
        + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--per-prompt", type=int, default=200)
    parser.add_argument("--runs", type=Path, default=RESULTS / "runs")
    parser.add_argument("--prompts", type=Path, default=PROMPTS, help="a class,prompt CSV")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    if args.calibrate:
        calibrate()
        return
    prompts = read_prompts(args.prompts)
    name = args.prompts.stem  # fashion-heldout, fashion-heldout-b, ...
    csv_path = RESULTS / f"{name}-seeds.csv"
    docs_csv = Path("docs") / f"text-prompts-{name}-seeds.csv"
    rows = [
        r
        for r in read_rows(csv_path, ("seed", "steps"), ("accuracy", "confidence"))
        if r["seed"] not in args.seeds
    ]
    for seed in args.seeds:
        run, steps = trained_run(seed, args.minutes, args.runs)
        judged = judge(run, prompts, args.per_prompt)
        rows += [{"seed": seed, "steps": steps, **row} for row in judged]
        by_mode = {m: overall([{"seed": seed, **r} for r in judged], m)[seed] for m in MODES}
        print(
            f"seed {seed} ({steps} steps): "
            + ", ".join(f"{m} {100 * v:.1f}%" for m, v in by_mode.items()),
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_rows(csv_path, rows, FIELDS)
    text = summary(rows)
    print(text)
    if args.write_docs:
        write_rows(docs_csv, rows, FIELDS)
        intro = section_intro(
            f"The prompts: `{args.prompts}` ({len(prompts)}, written before they were measured; "
            "no prompt names its class by a noun phrase of the caption bank, nothing in training "
            f"reads the file). {args.per_prompt} images per prompt and seed, noise seed 0, judged "
            f"by the Fashion-MNIST evaluator; rows in {docs_csv}."
        )
        body = intro + "\n\n" + text
        write_section("docs/benchmarks.md", f"Held-out prompts: {name}", body)
        print(f"wrote the docs section and {docs_csv}")


if __name__ == "__main__":
    main()
