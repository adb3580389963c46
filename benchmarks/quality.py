"""FID against training wall time: trains presets for a fixed CPU budget, evaluating at intervals.

Every preset trains in its own run with `eval.every_minutes`; evaluation time is excluded from the
training clock. The dataset's floor (real train images judged against the test split) is shown
beside the curves. Writes a CSV (benchmarks/results/quality.csv; a copy is committed in docs/),
a PNG plot and a table in docs/benchmarks.md.

    python benchmarks/quality.py --presets dcgan --minutes 10 --points 10 --write-docs
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.metrics.evaluate import dataset_floor  # noqa: E402
from knowgen.metrics.evaluator import load_or_train_evaluator  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

FIELDS = [
    "preset",
    "step",
    "minutes",
    "fid",
    "kid",
    "precision",
    "recall",
    "coverage",
    "modes",
    "cond_acc",
    "intra_fid",
]


def run_preset(
    preset: str,
    minutes: float,
    points: int,
    num_samples: int,
    out: Path,
    overrides: tuple[str, ...] = (),
    label: str | None = None,
) -> list:
    """Train `preset` (+ overrides) for `minutes`, evaluating `points` times; the curve's rows,
    named `label` (default: the preset)."""
    label = label or preset
    run_dir = out / "runs" / label
    cfg = resolve_config(
        preset,
        [
            "train.steps=none",
            f"train.minutes={minutes}",
            f"eval.every_minutes={minutes / points}",
            f"eval.num_samples={num_samples}",
            "train.checkpoint_every=100000",
            *overrides,
        ],
    )
    train(cfg, run_dir, overwrite=True)
    rows = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "fid" in record:
            rows.append(
                {
                    "preset": label,
                    "step": record["step"],
                    "minutes": round(record["elapsed_s"] / 60, 3),
                    "fid": record["fid"],
                    "kid": record["kid"],
                    "precision": record["precision"],
                    "recall": record["recall"],
                    "coverage": record["coverage"],
                    "modes": record["modes_covered"],
                    "cond_acc": record.get("conditional_accuracy", ""),
                    "intra_fid": record.get("intra_fid", ""),
                }
            )
    return rows


def percent(value) -> str:
    return f"{100 * value:.2f}%" if value != "" else "-"


def number(value) -> str:
    return f"{value:.2f}" if value not in ("", None) else "-"


def plot(rows: list[dict], floor: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for preset in dict.fromkeys(r["preset"] for r in rows):
        points = [(r["minutes"], r["fid"]) for r in rows if r["preset"] == preset]
        ax.plot(*zip(*points, strict=True), marker="o", label=preset)
    ax.axhline(floor, color="grey", linestyle="--", label=f"floor: train vs test ({floor:.2f})")
    ax.set_xlabel("training wall time (minutes, 2 CPU cores)")
    ax.set_ylabel("FID (evaluator features, lower is better)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["dcgan"])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    print(machine, flush=True)

    first = resolve_config(args.presets[0])
    start = time.perf_counter()
    evaluator = load_or_train_evaluator(first.data)
    evaluator_s = time.perf_counter() - start
    floor = dataset_floor(first.data, first.eval.__class__(num_samples=args.num_samples), evaluator)
    print(
        f"evaluator {evaluator.key}: test accuracy {100 * evaluator.test_accuracy:.2f}% "
        f"(ready in {evaluator_s:.0f} s); floor FID {floor['fid']:.3f}",
        flush=True,
    )

    rows = []
    for preset in args.presets:
        rows += run_preset(preset, args.minutes, args.points, args.num_samples, args.out)
        print(
            f"{preset}: "
            + ", ".join(
                f"{r['minutes']:.1f} min FID {r['fid']:.2f}" for r in rows if r["preset"] == preset
            ),
            flush=True,
        )

    csv_path = args.out / "quality.csv"
    png_path = Path("docs/images" if args.write_docs else args.out) / "quality-fid-vs-time.png"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, floor["fid"], png_path)

    table = [
        "| preset | minutes | step | FID | KID x1000 | precision | recall | coverage | classes "
        "| cond. accuracy | intra-class FID |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    table += [
        f"| {r['preset']} | {r['minutes']:.1f} | {r['step']} | {r['fid']:.2f} | "
        f"{1000 * r['kid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
        f"{r['coverage']:.3f} | {r['modes']} | {percent(r['cond_acc'])} | "
        f"{number(r['intra_fid'])} |"
        for r in rows
    ]
    table.append(
        f"| floor (train vs test) | - | - | {floor['fid']:.2f} | "
        f"{1000 * floor['kid']:.2f} | {floor['precision']:.3f} | {floor['recall']:.3f} | "
        f"{floor['coverage']:.3f} | {floor['modes_covered']} | "
        f"{percent(evaluator.test_accuracy)} (evaluator on real test images) | - |"
    )
    print("\n".join(table))
    if args.write_docs:
        body = "\n".join(
            [
                f"Machine: {machine}.",
                "",
                f"Command: `python benchmarks/quality.py --presets {' '.join(args.presets)} "
                f"--minutes {args.minutes:g} --points {args.points} "
                f"--num-samples {args.num_samples} "
                "--write-docs`. FID/KID/precision/recall/coverage in the feature space of the "
                f"Fashion-MNIST evaluator `{evaluator.key}` (test accuracy "
                f"{100 * evaluator.test_accuracy:.2f}%), {args.num_samples} EMA-generator samples "
                "against the 10,000 test images; evaluation time is not counted as training time.",
                "",
                "![FID against wall time](images/quality-fid-vs-time.png)",
                "",
                *table,
            ]
        )
        write_section("docs/benchmarks.md", "Quality: FID against wall time", body)


if __name__ == "__main__":
    main()
