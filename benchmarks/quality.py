"""FID against training wall time, per preset (or preset + settings), over seeds.

Every (variant, seed) trains in its own run for `--minutes`, evaluated `--points` times by the
Fashion-MNIST evaluator (10,000 EMA samples against the test split by default); evaluation time
is not training time. A variant is a preset name, optionally with settings after colons:
`dcgan`, `modern:train.precision="bf16"`. The first variant of each kind (unconditional or
conditional) is the baseline of its kind: the summary gives every variant's FID at 1, 2, 3, 5 and
10 minutes as mean (min-max) over seeds, its final FID as a ratio of the baseline's, its steps, and
the minutes it needed to reach the baseline's final mean FID. Rows accumulate in
benchmarks/results/quality-seeds.csv (re-running a variant and seed replaces its rows), so
variants can run in separate invocations on the same machine.

    python benchmarks/quality.py --variants dcgan modern cgan modern-cgan --seeds 0 1 2
    python benchmarks/quality.py --summary-only --write-docs
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import (  # noqa: E402
    fid_at_step,
    minutes_to_reach,
    read_metrics,
    read_rows,
    spread,
    value_at,
    write_rows,
)
from benchmarks.machine import describe_machine, slug, write_section  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

FIELDS = ["variant", "seed", "step", "minutes", "fid", "precision", "recall", "cond_acc"]
REPORT_MINUTES = (1, 2, 3, 5, 10)
CSV_NAME = "quality-seeds.csv"
SECTION = "Quality: FID against wall time"


def parse_variant(variant: str) -> tuple[str, list[str]]:
    """`preset:key=value:key=value` -> (preset, ["key=value", ...])."""
    preset, *settings = variant.split(":")
    return preset, settings


def is_conditional(variant: str) -> bool:
    preset, settings = parse_variant(variant)
    return resolve_config(preset, settings).knowledge.conditional


def timed_run(args, preset: str, settings: list[str], seed: int, run_dir: Path) -> list[dict]:
    """Train `preset` with `settings` for `args.minutes`, evaluated `args.points` times on
    `args.num_samples` samples; returns the metric records that carry an evaluation."""
    cfg = resolve_config(
        preset,
        [
            "train.steps=none",
            f"train.minutes={args.minutes}",
            f"eval.every_minutes={args.minutes / args.points}",
            f"eval.num_samples={args.num_samples}",
            "train.checkpoint_every=100000",
            f"train.seed={seed}",
            *settings,
        ],
    )
    train(cfg, run_dir, overwrite=True)
    return [record for record in read_metrics(run_dir) if "fid" in record]


def run_variant(args, variant: str, seed: int) -> list[dict]:
    """Train one (variant, seed) for `args.minutes`, evaluating `args.points` times."""
    preset, settings = parse_variant(variant)
    name = variant.replace(":", "-").replace('"', "").replace("=", "-")
    run_dir = args.out / "runs" / f"quality-{name}-seed{seed}"
    return [
        {
            "variant": variant,
            "seed": seed,
            "step": record["step"],
            "minutes": round(record["elapsed_s"] / 60, 3),
            "fid": record["fid"],
            "precision": record["precision"],
            "recall": record["recall"],
            "cond_acc": record.get("conditional_accuracy"),  # None: written as ""
        }
        for record in timed_run(args, preset, settings, seed, run_dir)
    ]


def curves_of(rows: list[dict]) -> dict[str, dict[int, list[dict]]]:
    """{variant: {seed: curve}} in the order variants first appear."""
    curves: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        curves.setdefault(row["variant"], {}).setdefault(row["seed"], []).append(row)
    return curves


def final_mean(curves: dict[int, list[dict]], minutes: float) -> float | None:
    finals = [value_at(c, minutes) for c in curves.values()]
    finals = [f for f in finals if f is not None]
    return statistics.mean(finals) if finals else None


def summarise(rows: list[dict], minutes: float, baselines: dict[bool, str]) -> list[str]:
    """A Markdown table: per variant, FID mean (min-max over seeds) at the report minutes, steps
    at the end, the final FID over its baseline's and the minutes to reach the baseline's final
    mean FID."""
    curves = curves_of(rows)
    points = [m for m in REPORT_MINUTES if m <= minutes]
    header = " | ".join(f"FID @ {m} min" for m in points)
    lines = [
        f"| variant | seeds | {header} | steps | final / baseline | minutes to reach the "
        "baseline's final FID | cond. accuracy |",
        "| --- | ---: | " + " | ".join("---:" for _ in points) + " | ---: | ---: | ---: | ---: |",
    ]
    for variant, by_seed in curves.items():
        conditional = any(c[-1]["cond_acc"] is not None for c in by_seed.values())
        baseline = baselines[conditional]
        target = final_mean(curves.get(baseline, {}), minutes)
        mine = final_mean(by_seed, minutes)
        cells = [spread([v for c in by_seed.values() if (v := value_at(c, m)) is not None])
                 for m in points]  # fmt: skip
        finals = [c[-1]["step"] for c in by_seed.values()]
        steps = f"{statistics.mean(finals):,.0f} ({min(finals):,}–{max(finals):,})"
        ratio = f"{mine / target:.2f}" if target and mine is not None else "-"
        reach = "-"
        if target is not None and variant != baseline:
            times = [minutes_to_reach(c, target) for c in by_seed.values()]
            reached = [t for t in times if t is not None]
            reach = spread(reached) + (
                f", {len(times) - len(reached)} seed(s) never" if len(reached) < len(times) else ""
            )
        accuracy = [c[-1]["cond_acc"] for c in by_seed.values() if c[-1]["cond_acc"] is not None]
        acc = spread([100 * a for a in accuracy]) + "%" if accuracy else "-"
        name = f"`{variant}`" + (" (baseline)" if variant == baseline else "")
        lines.append(
            f"| {name} | {len(by_seed)} | " + " | ".join(cells)
            + f" | {steps} | {ratio} | {reach} | {acc} |"
        )  # fmt: skip
    return lines


def equal_steps(rows: list[dict], minutes: float, baselines: dict[bool, str]) -> list[str]:
    """Per variant and seed: its FID at the end against its baseline's (same seed) at the same
    step, so that what a step costs and what a step achieves can be told apart (bf16 against
    fp32 must not lose quality per step)."""
    curves = curves_of(rows)
    lines = []
    for variant, by_seed in curves.items():
        conditional = any(c[-1]["cond_acc"] is not None for c in by_seed.values())
        baseline = baselines[conditional]
        if variant == baseline:
            continue
        for seed, curve in sorted(by_seed.items()):
            base = curves.get(baseline, {}).get(seed)
            if not base:
                continue
            step, fid = curve[-1]["step"], curve[-1]["fid"]
            reference = fid_at_step(base, step)
            if reference is None:  # more steps than the baseline made: compare at its last step
                step, reference = base[-1]["step"], base[-1]["fid"]
                fid = fid_at_step(curve, step)
                if fid is None:
                    continue
            lines.append(
                f"- `{variant}` seed {seed}: FID {fid:.1f} at step {step:,}, `{baseline}` "
                f"{reference:.1f} at the same step (ratio {fid / reference:.2f})"
            )
    return lines


def plot(
    rows: list[dict], path: Path, ylabel: str = "FID (evaluator features, lower is better)"
) -> None:
    """FID against training minutes: one line per seed, one colour per variant (a mean would
    hide a seed that collapsed, a band would hide which one); log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for index, (variant, by_seed) in enumerate(curves_of(rows).items()):
        colour = f"C{index}"
        for number, curve in enumerate(by_seed.values()):
            label = f"{variant} ({len(by_seed)} seed{'s' if len(by_seed) > 1 else ''})"
            minutes, fids = [r["minutes"] for r in curve], [r["fid"] for r in curve]
            ax.plot(minutes, fids, color=colour, marker="o", markersize=3, linewidth=1.2,
                    label=label if number == 0 else None)  # fmt: skip
    ax.set_xlabel("training wall time (minutes, 2 CPU cores)")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def image_name(title: str) -> str:
    """The curve image of a docs section: the default section keeps its historical name."""
    if title == SECTION:
        return "quality-fid-vs-time.png"
    return slug(title) + ".png"


def rebuilt_command(args, variants: list[str], rows: list[dict]) -> str:
    seeds = " ".join(map(str, sorted({r["seed"] for r in rows})))
    return (
        f"`python benchmarks/quality.py --variants {' '.join(variants)} --seeds {seeds} "
        f"--minutes {args.minutes:g} --points {args.points}`"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["dcgan", "modern"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--title",
        default=SECTION,
        help="docs section (and curve image) to write, so that groups measured in different "
        "sessions keep their own table",
    )
    parser.add_argument(
        "--command",
        help="the command line(s) to print in docs when the rows came from several invocations "
        "(default: one rebuilt from the rows)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    print(machine, flush=True)
    csv_path = args.out / CSV_NAME
    rows = read_rows(csv_path, ("seed", "step"), ("minutes", "fid", "precision", "recall"),
                     ("cond_acc",))  # fmt: skip
    if not args.summary_only:
        for variant in args.variants:
            for seed in args.seeds:
                new = run_variant(args, variant, seed)
                rows = [r for r in rows if (r["variant"], r["seed"]) != (variant, seed)] + new
                write_rows(csv_path, rows, FIELDS)
                curve = ", ".join(f"{r['minutes']:.1f} min FID {r['fid']:.1f}" for r in new)
                print(f"{variant} seed {seed}: {curve}", flush=True)
    variants = list(curves_of(rows))
    baselines = {}
    for variant in variants:
        baselines.setdefault(is_conditional(variant), variant)
    table = summarise(rows, args.minutes, baselines)
    steps = equal_steps(rows, args.minutes, baselines)
    print("\n".join(table + ["", "At equal steps:", *steps]))
    png = Path("docs/images" if args.write_docs else args.out) / image_name(args.title)
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, png)
    if args.write_docs:
        body = "\n".join(
            [
                f"Machine: {machine}.",
                "",
                f"Command: {args.command or rebuilt_command(args, variants, rows)}, each "
                "(variant, seed) one run on this machine, one at a time. FID in the "
                "Fashion-MNIST evaluator's "
                f"features, {args.num_samples} EMA samples against the 10,000 test images, "
                "evaluation time not counted as training time. Mean (min-max) over seeds.",
                "",
                f"![FID against wall time](images/{png.name})",
                "",
                *table,
                "",
                "At equal steps (each variant's last evaluation against its baseline's curve, "
                "same seed, interpolated between evaluations):",
                "",
                *steps,
            ]
        )
        write_section("docs/benchmarks.md", args.title, body)


if __name__ == "__main__":
    main()
