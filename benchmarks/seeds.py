"""Claims over seeds: train each configuration with several seeds, evaluate each run, and report
every metric as a mean with its 95% interval, the range and the values per seed.

One run says little about a GAN: the same preset measured 59.7% and 73.6% joint accuracy in two
runs. A sentence that says "A beats B" needs each side over seeds and intervals that do not
overlap; this helper gives both for any preset + settings, with any budget, judged by
`knowgen evaluate` (so every metric the evaluator reports, not only FID). A variant is a preset
name with optional settings after colons, as in quality.py:

    python benchmarks/seeds.py --variants 'fusion:knowledge.fusion="concat"' fusion --minutes 10
    python benchmarks/seeds.py --variants sagan dcgan --steps 3000 --metrics fid precision recall

Rows (one per variant, seed and metric) accumulate in benchmarks/results/seeds.csv; re-running a
variant and seed replaces its rows, so sides can be measured in separate invocations on the same
machine. The interval is Student's t over the seeds (n - 1 degrees of freedom): with 3 seeds it is
wide, which is the point.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_rows, write_rows  # noqa: E402
from benchmarks.machine import describe_machine  # noqa: E402
from benchmarks.quality import parse_variant  # noqa: E402
from benchmarks.scaling import QUIET  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402

FIELDS = ["variant", "seed", "steps", "metric", "value"]
CSV_NAME = "seeds.csv"
# Two-sided 95% Student t quantiles by degrees of freedom (scipy is not a dependency here).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def interval95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t interval of the mean (half-width nan for one value)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, math.nan
    t = T95.get(len(values) - 1, 1.96)
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def describe(values: list[float]) -> str:
    """`mean ± half-width (min–max, n seeds)`: the cell every seeds table shows."""
    mean, half = interval95(values)
    if len(values) == 1:
        return f"{mean:.4g} (1 seed: no interval)"
    return f"{mean:.4g} ± {half:.2g} ({min(values):.4g}–{max(values):.4g}, {len(values)} seeds)"


def overlap(a: list[float], b: list[float]) -> bool:
    """Whether the 95% intervals of two sides overlap (a claim needs them apart)."""
    (ma, ha), (mb, hb) = interval95(a), interval95(b)
    if math.isnan(ha) or math.isnan(hb):
        return True
    return abs(ma - mb) <= ha + hb


def run_seed(variant: str, seed: int, budget: list[str], num_samples: int, out: Path) -> dict:
    """Train one (variant, seed), then `knowgen evaluate` it; its numeric scores by name."""
    from knowgen.train.loop import train

    preset, settings = parse_variant(variant)
    name = variant.replace(":", "-").replace('"', "").replace("=", "-")
    run_dir = out / "runs" / f"seeds-{name}-seed{seed}"
    cfg = resolve_config(preset, QUIET + budget + [f"train.seed={seed}", *settings])
    state = train(cfg, run_dir, overwrite=True)
    command = [sys.executable, "-m", "knowgen", "evaluate", str(run_dir), "--n", str(num_samples)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    scores = json.loads((run_dir / "eval.json").read_text())
    numbers = {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}
    return numbers | {"steps": state.step}


def table(rows: list[dict], metrics: list[str] | None) -> list[str]:
    """A Markdown table: one row per metric, one column per variant, and whether the first two
    variants' intervals overlap."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    names = metrics or sorted({r["metric"] for r in rows})
    header = "| metric | " + " | ".join(f"`{v}`" for v in variants) + " |"
    if len(variants) >= 2:
        header += " 95% intervals of the first two |"
    lines = [header, "| --- |" + " ---: |" * (len(variants) + (len(variants) >= 2))]
    for metric in names:
        sides = [[r["value"] for r in rows if r["variant"] == v and r["metric"] == metric]
                 for v in variants]  # fmt: skip
        if not any(sides):
            continue
        cells = [describe(side) if side else "-" for side in sides]
        if len(variants) >= 2:
            both = sides[0] and sides[1]
            cells.append(("overlap" if overlap(sides[0], sides[1]) else "apart") if both else "-")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float)
    budget.add_argument("--steps", type=int)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--metrics", nargs="+", help="the rows of the table (default: all)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(describe_machine(), flush=True)
    if args.minutes is not None:
        limit = ["train.steps=none", f"train.minutes={args.minutes}"]
    else:
        limit = [f"train.steps={args.steps}"]
    csv_path = args.out / CSV_NAME
    rows = read_rows(csv_path, ("seed", "steps"), ("value",))
    if not args.summary_only:
        for variant in args.variants:
            for seed in args.seeds:
                scores = run_seed(variant, seed, limit, args.num_samples, args.out)
                steps = int(scores.pop("steps"))
                rows = [r for r in rows if (r["variant"], r["seed"]) != (variant, seed)]
                rows += [{"variant": variant, "seed": seed, "steps": steps, "metric": k,
                          "value": v} for k, v in sorted(scores.items())]  # fmt: skip
                write_rows(csv_path, rows, FIELDS)
                print(
                    f"{variant} seed {seed}: {steps:,} steps, FID {scores['fid']:.1f}", flush=True
                )
    chosen = [r for r in rows if r["variant"] in args.variants]
    print("\n".join(table(chosen, args.metrics)))


if __name__ == "__main__":
    main()
