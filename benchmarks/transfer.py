"""Knowledge transfer: FID against training wall time for one generator with each transfer mode.

The same preset (default `dcgan`) trains once per `transfer.mode`; evaluation is by the evaluator
(which shares nothing with the teacher) and is not counted as training time. Results accumulate in
benchmarks/results/transfer.csv (re-running a mode replaces its rows), so modes can be measured in
separate invocations on the same machine; `--baseline CSV` takes the `none` curve from a
benchmarks/quality.py CSV of the same preset instead of training it again.

    python benchmarks/transfer.py --modes none projected init feature-matching --write-docs
    python benchmarks/transfer.py --modes projected --set transfer.logit_head=true --tag logit

`--set` applies to every mode but `none`; `--tag` names such a variant in the curves' labels.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.quality import FIELDS, plot, run_preset  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.metrics.evaluate import dataset_floor  # noqa: E402
from knowgen.metrics.evaluator import load_or_train_evaluator  # noqa: E402
from knowgen.transfer import load_or_train_teacher  # noqa: E402

MODES = ["none", "projected", "init", "feature-matching"]


def minutes_to_reach(rows: list[dict], target: float) -> float | None:
    """First training time at which a curve's FID is <= target, interpolated between points."""
    previous = None
    for row in rows:
        if row["fid"] <= target:
            if previous is None:
                return row["minutes"]
            (m0, f0), (m1, f1) = (
                (previous["minutes"], previous["fid"]),
                (row["minutes"], row["fid"]),
            )
            return m0 + (m1 - m0) * (f0 - target) / (f0 - f1)
        previous = row
    return None


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("step", "modes"):
            row[key] = int(row[key])
        for key in ("minutes", "fid", "kid", "precision", "recall", "coverage"):
            row[key] = float(row[key])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="dcgan")
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--baseline", type=Path, help="quality.py CSV holding the `none` curve")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--set", action="append", default=[], help="override for transfer runs")
    parser.add_argument("--tag", default="", help="appended to the mode in the labels")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    print(machine, flush=True)

    cfg = resolve_config(args.preset, args.set)
    evaluator = load_or_train_evaluator(cfg.data)
    floor = dataset_floor(cfg.data, cfg.eval.__class__(num_samples=args.num_samples), evaluator)
    start = time.perf_counter()
    teacher = load_or_train_teacher(cfg.data, cfg.transfer)
    print(
        f"teacher {teacher.key}: test accuracy {100 * teacher.test_accuracy:.2f}%, trained once in "
        f"{teacher.train_seconds:.0f} s (loaded now in {time.perf_counter() - start:.1f} s); "
        f"evaluator {evaluator.key}: {100 * evaluator.test_accuracy:.2f}%",
        flush=True,
    )

    csv_path = args.out / "transfer.csv"
    rows = read_rows(csv_path)
    if args.baseline:
        rows = [r for r in rows if r["preset"] != f"{args.preset}/none"]
        for row in read_rows(args.baseline):
            if row["preset"] == args.preset:
                rows.append(row | {"preset": f"{args.preset}/none"})
    for mode in args.modes:
        if mode == "none" and args.baseline:
            continue
        tagged = mode != "none" and args.tag
        label = f"{args.preset}/{mode}" + (f"+{args.tag}" if tagged else "")
        rows = [r for r in rows if r["preset"] != label]
        rows += run_preset(
            args.preset,
            args.minutes,
            args.points,
            args.num_samples,
            args.out,
            overrides=(f'transfer.mode="{mode}"', *(args.set if mode != "none" else ())),
            label=label,
        )
        with open(csv_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    curves = {
        label: [r for r in rows if r["preset"] == label]
        for label in dict.fromkeys(r["preset"] for r in rows)
    }
    baseline = curves.get(f"{args.preset}/none")
    lines = [
        "| transfer.mode | steps | final FID | minutes to reach `none`'s final FID | speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, curve in curves.items():
        reach, speedup = "-", "-"
        if baseline:
            target = baseline[-1]["fid"]
            minutes = minutes_to_reach(curve, target)
            if minutes is not None:
                reach = f"{minutes:.2f}"
                speedup = f"{baseline[-1]['minutes'] / minutes:.1f}x"
            else:
                reach = "not reached"
        last = curve[-1]
        lines.append(
            f"| `{label.split('/')[-1]}` | {last['step']} | {last['fid']:.2f} | {reach} "
            f"| {speedup} |"
        )
    teacher_line = (
        f"Teacher `{teacher.key}`: test accuracy {100 * teacher.test_accuracy:.2f}%, trained once "
        f"in {teacher.train_seconds:.0f} s on this machine (cached afterwards; not included in "
        "the curves' minutes)."
    )
    print("\n".join(lines) + "\n" + teacher_line)
    png = Path("docs/images" if args.write_docs else args.out) / "transfer-fid-vs-time.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, floor["fid"], png)
    if args.write_docs:
        body = "\n".join(
            [
                f"Machine: {machine}.",
                "",
                f"Command: `python benchmarks/transfer.py --preset {args.preset} --minutes "
                f"{args.minutes:g} --points {args.points} --write-docs` (modes may be run in "
                "separate invocations; `--baseline` reuses the `none` curve of "
                "benchmarks/quality.py). Evaluator FID of "
                f"{args.num_samples} EMA samples against the test split; the evaluator "
                f"`{evaluator.key}` shares no weights with the teacher.",
                "",
                "![FID against wall time per transfer mode](images/transfer-fid-vs-time.png)",
                "",
                *lines,
                "",
                teacher_line,
            ]
        )
        write_section("docs/benchmarks.md", "Knowledge transfer", body)


if __name__ == "__main__":
    main()
