"""CAS over training seeds: what a classifier learns from a conditional generator's images alone.

For each run (a preset trained for 10 CPU minutes with one seed), the Classification Accuracy
Score (`knowgen evaluate --cas`: the evaluator's architecture trained 5 epochs on generated images
only, asked for every class equally often, tested on the 10,000 real test images) under levers
that need no retraining:

- `ema`: the EMA generator, 10,000 images (what `knowgen evaluate --cas` does);
- `raw`: the raw generator of the same checkpoint (no weight averaging), 10,000 images;
- `ema-50k`: the EMA generator, 50,000 images (5,000 per class, each drawn once);

each beside the same recipe on as many real training images, and the samples' precision and
recall (10,000 samples, the evaluator's features). knowgen samples without truncation (z ~ N(0, I)
always), so "truncation off" is every row. Mean (min-max) over seeds per preset and lever.

    python benchmarks/cas.py --runs cgan:RUN0 cgan:RUN1 cgan:RUN2 modern-cgan:RUN0 ... \
        --levers ema raw ema-50k --write-docs
    python benchmarks/cas.py --presets cgan modern-cgan --seeds 0 1 2 --minutes 10   # trains
    python benchmarks/cas.py --summary-only --write-docs       # the tables of every row so far
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_rows, spread, write_rows  # noqa: E402
from benchmarks.machine import describe_machine, section_intro, write_section  # noqa: E402
from benchmarks.probe import timed_settings  # noqa: E402

RESULTS = Path("benchmarks/results/cas")
DOCS_CSV = Path("docs/cas-seeds.csv")
LEVERS = {"ema": ("ema", 10_000), "raw": ("raw", 10_000), "ema-50k": ("ema", 50_000)}
FIELDS = ["preset", "run", "step", "lever", "images", "cas", "cas_real", "precision", "recall"]
TARGET = 0.86


def trained_runs(presets: list[str], seeds: list[int], minutes: float) -> list[tuple[str, Path]]:
    """(preset, run) for every preset and seed, trained for `minutes` unless already there."""
    from knowgen.checkpoint import latest_checkpoint
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    runs = []
    for preset in presets:
        for seed in seeds:
            run = RESULTS / "runs" / f"{preset}-seed{seed}"
            if latest_checkpoint(run) is None:
                cfg = resolve_config(preset, [*timed_settings(minutes), f"train.seed={seed}"])
                train(cfg, run, overwrite=True)
            runs.append((preset, run))
    return runs


def generator_of(run: Path, weights: str):
    """The run's newest checkpoint as a `Generator`, with its EMA or its raw weights."""
    import knowgen
    from knowgen.checkpoint import latest_checkpoint, load_checkpoint

    generator = knowgen.load(run)
    if weights == "raw":
        generator.network.load_state_dict(load_checkpoint(latest_checkpoint(run))["generator"])
    return generator


def measure(preset: str, run: Path, lever: str) -> dict:
    """CAS, its real-data ceiling, precision and recall of one run under one lever."""
    from knowgen.config import EvalConfig
    from knowgen.data import DataConfig
    from knowgen.metrics.cas import classification_accuracy_score
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.metrics.evaluator import load_or_train_evaluator

    weights, images = LEVERS[lever]
    data = DataConfig(name="fashion-mnist")
    evaluator = load_or_train_evaluator(data)
    generator = generator_of(run, weights)
    cas = classification_accuracy_score(generator, data, images, evaluator=evaluator)

    scores = evaluate_generator(
        generator, data, replace(EvalConfig(), num_samples=10_000), evaluator=evaluator
    )
    return {
        "preset": preset,
        "run": str(run),
        "step": int(generator.meta["step"]),
        "lever": lever,
        "images": images,
        "cas": cas["cas"],
        "cas_real": cas["cas_real"],
        "precision": scores["precision"],
        "recall": scores["recall"],
    }


def summary(rows: list[dict]) -> str:
    """Per preset and lever: CAS, the real ceiling, precision, recall, over seeds."""
    lines = [
        "| preset | lever | runs | CAS | same recipe on real images | precision | recall |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    best = None
    for preset in dict.fromkeys(r["preset"] for r in rows):
        for lever in dict.fromkeys(r["lever"] for r in rows):
            group = [r for r in rows if r["preset"] == preset and r["lever"] == lever]
            if not group:
                continue
            cas = [r["cas"] for r in group]
            lines.append(
                f"| {preset} | `{lever}` | {len(group)} | {spread(cas, 100, 2, '%')} | "
                f"{spread([r['cas_real'] for r in group], 100, 2, '%')} | "
                f"{statistics.mean(r['precision'] for r in group):.3f} | "
                f"{statistics.mean(r['recall'] for r in group):.3f} |"
            )
            if lever == "ema" and (best is None or statistics.mean(cas) > best[1]):
                best = (preset, statistics.mean(cas))
    if best is not None:
        verdict = "met" if best[1] >= TARGET else "NOT met"
        lines += [
            "",
            f"Target: CAS >= {100 * TARGET:.0f}% (mean of seeds, `ema`, 10,000 images) "
            f"for the best preset: **{best[0]} {100 * best[1]:.2f}%, {verdict}**.",
        ]
    steps = ", ".join(f"{Path(r['run']).name}: {r['step']:,}" for r in rows if r["lever"] == "ema")
    return "\n".join([*lines, "", f"Steps per run: {steps}."])


def parse_runs(specs: list[str]) -> list[tuple[str, Path]]:
    """`PRESET:RUN` pairs."""
    pairs = []
    for spec in specs:
        preset, sep, run = spec.partition(":")
        if not sep or not run:
            raise SystemExit(f"--runs takes PRESET:RUN, got {spec!r}")
        pairs.append((preset, Path(run)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=[], help="PRESET:RUN of trained runs")
    parser.add_argument("--presets", nargs="+", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--summary-only", action="store_true", help="tables of the rows so far")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    runs = parse_runs(args.runs) + trained_runs(args.presets, args.seeds, args.minutes)
    if args.summary_only:
        runs, args.levers = [], []
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv_path = RESULTS / "cas-seeds.csv"
    rows = read_rows(csv_path, ("step", "images"), ("cas", "cas_real", "precision", "recall"))
    for lever in args.levers:
        for preset, run in runs:
            row = measure(preset, run, lever)
            rows = [r for r in rows if (r["run"], r["lever"]) != (str(run), lever)] + [row]
            write_rows(csv_path, rows, FIELDS)
            print(
                f"{preset} {run.name} {lever}: CAS {100 * row['cas']:.2f}% (real "
                f"{100 * row['cas_real']:.2f}%), precision {row['precision']:.3f}, "
                f"recall {row['recall']:.3f}",
                flush=True,
            )
    text = summary(rows)
    print(text)
    if args.write_docs:
        write_rows(DOCS_CSV, rows, FIELDS)
        body = section_intro("Rows in docs/cas-seeds.csv.") + "\n\n" + text
        write_section("docs/benchmarks.md", "CAS over seeds", body)
        print("wrote the docs section and docs/cas-seeds.csv")


if __name__ == "__main__":
    main()
