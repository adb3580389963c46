"""Knowledge transfer where it pays: a generator trained on a few images of some classes, helped by
a teacher that learned *other* classes. FID against training wall time, per mode, over seeds.

Scenario (issue 20): the generator sees `--images` (1,000 or 200) seeded, class-balanced images of
{sandal, shirt, sneaker, bag, ankle boot}; knowgen's teacher learned {T-shirt, trouser, pullover,
dress, coat} from all their images. Modes:

- `none`: the preset alone; `diffaugment`: plus DiffAugment (colour, translation, cutout); `ada`:
  the same transforms applied only as often as D's overfitting asks. The baseline every transfer
  mode is judged against is the best of these three (lowest mean final FID; `--baseline` names
  one instead): the issue expected DiffAugment, but in ten CPU minutes plain training beat it
  with 1,000 images and ADA with 200;
- `projected`, `init`, `feature-matching`, `vision-aided`: each transfer mode plus DiffAugment;
  the same with `-plain` (e.g. `vision-aided-plain`): the transfer mode without augmentation;
  with `-ada` (e.g. `vision-aided-ada`): the transfer mode with ADA, for when ADA is the best
  baseline (with 200 images it is). At equal steps each is compared with its twin without
  transfer (`diffaugment`, `none` or `ada`).

Generative transfer (issue 37): `source` starts G, D and the EMA from the preset trained on the
teacher's five classes for `--source-minutes` (all their 30,000 images; trained once, cached under
`--out`/sources, its cost printed beside every result and never inside the curves' minutes);
`source-random` is the same with the new classes' embeddings left at random instead of started
from the source classes the teacher sees in them; `source-freezed` adds FreezeD
(`transfer.freeze_d=2`). The summary gives minutes to reach the baseline's final FID both in
fine-tuning time and with the source's minutes added.

Each (mode, seed) trains for `--minutes`, evaluated every minute by the evaluator (trained on all
ten classes; it shares nothing with the teacher) against the test images of the five classes;
evaluation time is not training time. Rows accumulate in benchmarks/results/transfer-few.csv
(re-running a mode and seed replaces its rows), so modes can be run in separate invocations on
the same machine; the summary is printed from every row there.

    python benchmarks/transfer.py --images 1000 --modes diffaugment vision-aided --seeds 0 1 2
    python benchmarks/transfer.py --images 1000 --summary-only --write-docs --title "..."
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
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
from knowgen.checkpoint import latest_checkpoint  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.loop import train  # noqa: E402
from knowgen.transfer import load_or_train_teacher  # noqa: E402

GENERATOR_CLASSES = ["sandal", "shirt", "sneaker", "bag", "ankle boot"]
TEACHER_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat"]
AUGMENT = 'train.diffaugment="color,translation,cutout"'
ADA = "train.ada_target=0.6"
TRANSFER_MODES = ["projected", "init", "feature-matching", "vision-aided"]
# generative transfer: the overrides besides transfer.source (the cached source run)
SOURCE_MODES = {
    "source": [],
    "source-random": ['transfer.class_start="random"'],
    "source-freezed": ["transfer.freeze_d=2"],
    "source-ada": [AUGMENT, ADA],  # the source start on top of the best recipe at 200 images
    "source-freezed-ada": ["transfer.freeze_d=2", AUGMENT, ADA],  # and FreezeD on top of that
}
BASELINES = ["none", "diffaugment", "ada"]
# a transfer mode's name suffix -> the baseline it adds the transfer to (its twin); no suffix:
# DiffAugment
TWIN_OF_SUFFIX = {"-plain": "none", "-ada": "ada"}
MODES = [
    *BASELINES,
    *TRANSFER_MODES,
    *(m + suffix for suffix in TWIN_OF_SUFFIX for m in TRANSFER_MODES),
    *SOURCE_MODES,
]
REPORT_MINUTES = (1, 2, 5, 10)
FIELDS = ["images", "mode", "seed", "step", "minutes", "fid", "d_overfit_gap"]


def mode_overrides(mode: str, source: Path | None = None) -> list[str]:
    """The `--set` assignments of one mode (besides the data subset and the seed); `source` is
    the source run of the generative modes."""
    if mode == "none":
        return []
    if mode in SOURCE_MODES:
        if source is None:
            raise ValueError(f"mode {mode!r} needs the source run")
        return [f"transfer.source={json.dumps(str(source))}", *SOURCE_MODES[mode]]
    if mode == "diffaugment":
        return [AUGMENT]
    if mode == "ada":  # the same transforms, applied only as often as D's overfitting asks
        return [AUGMENT, ADA]
    transfer_mode, baseline = split_mode(mode)
    transfer = [f'transfer.mode="{transfer_mode}"']
    transfer.append(f"transfer.teacher_classes={TEACHER_CLASSES}")
    return [*mode_overrides(baseline), *transfer]


def split_mode(mode: str) -> tuple[str, str]:
    """A transfer mode's `transfer.mode` and the baseline it adds the transfer to."""
    for suffix, baseline in TWIN_OF_SUFFIX.items():
        if mode.endswith(suffix):
            return mode.removesuffix(suffix), baseline
    return mode, "diffaugment"


def twin(mode: str) -> str:
    """The run without transfer that differs from `mode` only by the transfer: what its steps are
    compared with."""
    if mode in SOURCE_MODES:
        return "ada" if mode.endswith("-ada") else "none"
    return split_mode(mode)[1]


def train_once(preset: str, settings: list[str], minutes: float, run: Path) -> Path:
    """`preset` with `settings` trained for `minutes` (seed 0) into `run`, unless a finished run
    is there: a source trained once and reused by every fine-tuning run."""
    if latest_checkpoint(run) is None:
        overrides = [*settings, "train.steps=none", f"train.minutes={minutes}", "train.seed=0",
                     "train.checkpoint_every=100000"]  # fmt: skip
        train(resolve_config(preset, overrides), run, overwrite=True)
    return run


def source_dir(args) -> Path:
    """Where the generative modes' source is cached."""
    return args.out / "sources" / f"{args.preset}-fashion-mnist-0-4-{args.source_minutes:g}min"


def source_run(args) -> Path:
    """The source of the generative modes: `args.preset` trained on the teacher's classes (all
    their training images) for `args.source_minutes`, once; a run that finished is reused."""
    settings = [f"data.classes={json.dumps(TEACHER_CLASSES)}", *args.set]
    return train_once(args.preset, settings, args.source_minutes, source_dir(args))


def source_line(run: Path) -> str:
    """What the source cost: its training minutes and steps on this machine."""
    last = read_metrics(run)[-1]
    return (
        f"Source `{run.name}`: the preset trained on {', '.join(TEACHER_CLASSES)} (all their "
        f"training images), {last['elapsed_s'] / 60:.1f} min ({last['step']:,} steps) on this "
        "machine, once, and cached: not inside the fine-tuning minutes above; the total-time "
        "column adds it."
    )


def best_baseline(rows: list[dict], minutes: float) -> str | None:
    """The non-transfer mode with the lowest mean FID at `minutes` (over its seeds): the issue
    asks transfer to beat the best recipe without it, not a strawman."""
    means = {}
    for mode in BASELINES:
        curves: dict[int, list[dict]] = {}
        for row in rows:
            if row["mode"] == mode:
                curves.setdefault(row["seed"], []).append(row)
        finals = [f for f in (value_at(c, minutes) for c in curves.values()) if f is not None]
        if finals:
            means[mode] = statistics.mean(finals)
    return min(means, key=means.get) if means else None


def data_overrides(images: int) -> list[str]:
    return [f"data.classes={json.dumps(GENERATOR_CLASSES)}", f"data.limit={images}"]


def run_mode(args, mode: str, seed: int) -> list[dict]:
    """Train one (mode, seed) for `args.minutes`, evaluating every minute; its curve's rows."""
    run_dir = args.out / "runs" / f"transfer-{args.images}-{mode}-seed{seed}"
    overrides = [
        "train.steps=none",
        f"train.minutes={args.minutes}",
        "eval.every_minutes=1",
        f"eval.num_samples={args.num_samples}",
        "train.checkpoint_every=100000",
        f"train.seed={seed}",
        *data_overrides(args.images),
        *mode_overrides(mode, args.source),
        *args.set,
    ]
    train(resolve_config(args.preset, overrides), run_dir, overwrite=True)
    rows, gap = [], None
    for record in read_metrics(run_dir):
        gap = record.get("d_overfit_gap", gap)
        if "fid" in record:
            rows.append(
                {
                    "images": args.images,
                    "mode": mode,
                    "seed": seed,
                    "step": record["step"],
                    "minutes": round(record["elapsed_s"] / 60, 3),
                    "fid": record["fid"],
                    "d_overfit_gap": gap if gap is not None else "",
                }
            )
    return rows


def measured_modes(rows: list[dict]) -> list[str]:
    """The modes `rows` hold, in the order of MODES (baselines first): tables, curves and the
    docs' command line list them alike."""
    present = {r["mode"] for r in rows}
    return [m for m in MODES if m in present]


def modes_and_seeds(rows: list[dict], images: int) -> str:
    """The `--modes ... --seeds ...` of the rows measured with `images`: the docs name what ran,
    not a placeholder, even when each mode and seed ran in an invocation of its own."""
    rows = [r for r in rows if r["images"] == images]
    seeds = sorted({r["seed"] for r in rows})
    return f"--modes {' '.join(measured_modes(rows))} --seeds {' '.join(map(str, seeds))}"


def equal_steps(rows: list[dict], images: int) -> list[str]:
    """Per mode and seed: its final FID against the baseline's (same seed) at the same step, so
    that the cost of a step and what a step achieves can be told apart."""
    rows = [r for r in rows if r["images"] == images]
    lines = []
    for mode in [m for m in MODES if m not in BASELINES]:
        for seed in sorted({r["seed"] for r in rows if r["mode"] == mode}):
            mine = [r for r in rows if (r["mode"], r["seed"]) == (mode, seed)]
            base = [r for r in rows if (r["mode"], r["seed"]) == (twin(mode), seed)]
            if not mine or not base:
                continue
            step, fid, other = mine[-1]["step"], mine[-1]["fid"], twin(mode)
            reference = fid_at_step(base, step)
            if reference is not None:
                lines.append(
                    f"- `{mode}` seed {seed}: FID {fid:.1f} at step {step:,}; `{other}` at the "
                    f"same step {reference:.1f} (ratio {fid / reference:.2f}); steps in "
                    f"{mine[-1]['minutes']:.0f} min: {step:,} vs {base[-1]['step']:,}"
                )
    return lines


def summarise(
    rows: list[dict],
    images: int,
    minutes: float,
    baseline_mode: str | None = None,
    source_minutes: float | None = None,
) -> list[str]:
    """A Markdown table: FID mean (min–max over seeds) at each report time, seeds, the overfitting
    gap at the end, and the minutes each seed needed to reach the baseline's final mean FID (the
    best non-transfer mode unless `baseline_mode` names one)."""
    rows = [r for r in rows if r["images"] == images]
    curves: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        curves.setdefault(row["mode"], {}).setdefault(row["seed"], []).append(row)
    points = [m for m in REPORT_MINUTES if m <= minutes]
    baseline_mode = baseline_mode or best_baseline(rows, minutes) or "none"
    baseline = curves.get(baseline_mode, {})
    finals = [value_at(c, minutes) for c in baseline.values()]
    target = statistics.mean(f for f in finals if f is not None) if baseline else None
    header = " | ".join(f"FID @ {m} min" for m in points)
    lines = [
        f"| mode | seeds | {header} | D overfitting gap at the end | minutes to reach "
        f"`{baseline_mode}`'s {minutes:g}-min FID | the same, with the source's minutes |",
        "| --- | ---: | " + " | ".join("---:" for _ in points) + " | ---: | ---: | ---: |",
    ]
    for mode in [m for m in MODES if m in curves]:
        by_seed = curves[mode]
        cells = []
        for point in points:
            values = [value_at(c, point) for c in by_seed.values()]
            cells.append(spread([v for v in values if v is not None]))
        gaps = [
            c[-1]["d_overfit_gap"] for c in by_seed.values() if c[-1]["d_overfit_gap"] is not None
        ]
        reach, total = "-", "-"
        if target is not None:
            times = [minutes_to_reach(c, target) for c in by_seed.values()]
            reached = [t for t in times if t is not None]
            never = (
                f", {len(times) - len(reached)} seed(s) never" if len(reached) < len(times) else ""
            )
            reach = spread(reached) + never
            if mode in SOURCE_MODES and source_minutes is not None:
                total = spread([t + source_minutes for t in reached]) + never
            elif reached:
                total = reach
        lines.append(
            f"| `{mode}` | {len(by_seed)} | "
            + " | ".join(cells)
            + f" | {spread(gaps)} | {reach} | {total} |"
        )
    return lines


def class_start_lines(rows: list[dict], images: int) -> list[str]:
    """The classifier-guided class start (`source`) against the random one (`source-random`),
    seed by seed, at each report minute both curves reach: which wins and by how much."""
    rows = [r for r in rows if r["images"] == images]
    curves: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        curves.setdefault(row["mode"], {}).setdefault(row["seed"], []).append(row)
    teacher, random = curves.get("source", {}), curves.get("source-random", {})
    seeds = sorted(set(teacher) & set(random))
    lines = []
    for minute in REPORT_MINUTES:
        pairs = [(value_at(teacher[s], minute), value_at(random[s], minute)) for s in seeds]
        pairs = [(t, r) for t, r in pairs if t is not None and r is not None]
        if not pairs:
            continue
        ratios = [t / r for t, r in pairs]
        with_teacher, at_random = spread([t for t, _ in pairs]), spread([r for _, r in pairs])
        lines.append(
            f"- @ {minute} min ({len(pairs)} seeds): teacher start {with_teacher}, "
            f"random start {at_random}; ratio per seed " + ", ".join(f"{x:.2f}" for x in ratios)
        )
    return lines


def plot(rows: list[dict], images: int, path: Path) -> None:
    """FID against training minutes per mode: the mean over seeds at each evaluation minute,
    with the band from the best to the worst seed; and D's overfitting gap beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["images"] == images]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for mode in measured_modes(rows):
        curves = {}
        for row in rows:
            if row["mode"] == mode:
                curves.setdefault(row["seed"], []).append(row)
        minutes = sorted({round(r["minutes"]) for r in rows if r["mode"] == mode})
        for axis, key in ((left, "fid"), (right, "d_overfit_gap")):
            means, lows, highs, xs = [], [], [], []
            for minute in minutes:
                values = [value_at(curve, minute, key) for curve in curves.values()]
                values = [v for v in values if v is not None]
                if values:
                    xs.append(minute)
                    means.append(statistics.mean(values))
                    lows.append(min(values))
                    highs.append(max(values))
            (line,) = axis.plot(xs, means, marker="o", label=f"{mode} ({len(curves)} seeds)")
            axis.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.2)
    left.set_ylabel("FID (evaluator features, lower is better)")
    left.set_yscale("log")
    right.set_ylabel("D logit: training reals - held-out reals")
    right.axhline(0, color="grey", linewidth=0.8)
    for axis in (left, right):
        axis.set_xlabel("training wall time (minutes, 2 CPU cores)")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle(f"{images} images of five classes; teacher learned the other five")
    fig.tight_layout()
    fig.savefig(path)


def class_grid(runs: dict[str, Path], path: Path, per_class: int = 8) -> None:
    """One row per (mode, class) from each mode's final EMA generator, the same noise in every
    row: what the FID figures look like."""
    from knowgen.sampling import Samples, load

    rows, labels = [], []
    for mode, run in runs.items():
        generator = load(run)
        for name in generator.class_names or [None]:
            rows.append(generator.sample(per_class, seed=0, class_=name))
            labels.append(f"{mode}: {name}" if name else mode)
    Samples.rows(rows, labels).save_grid(path, nrow=per_class, scale=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="dcgan")
    parser.add_argument("--images", type=int, default=1000, help="data.limit (1000 or 200)")
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--set", action="append", default=[], help="override for every run")
    parser.add_argument("--summary-only", action="store_true", help="print the table, train none")
    parser.add_argument("--baseline", choices=BASELINES, help="default: the best one measured")
    parser.add_argument(
        "--source-minutes",
        type=float,
        default=10.0,
        help="training minutes of the generative modes' source (trained once, cached)",
    )
    parser.add_argument("--grids", action="store_true", help="a sample grid per mode (seed 0)")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--title",
        default=None,
        help="docs section title (default 'Knowledge transfer with N images'); name it per "
        "session so that figures of different machines are never merged in one table",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    print(machine, flush=True)

    teacher_overrides = [*data_overrides(args.images), *mode_overrides("projected"), *args.set]
    cfg = resolve_config(args.preset, teacher_overrides)  # the teacher the runs will use
    start = time.perf_counter()
    teacher = load_or_train_teacher(cfg.data, cfg.transfer)
    teacher_line = (
        f"Teacher `{teacher.key}` (classes {', '.join(TEACHER_CLASSES)}): test accuracy "
        f"{100 * teacher.test_accuracy:.2f}%, trained once in {teacher.train_seconds:.0f} s on "
        f"this machine and cached (ready for this run in {time.perf_counter() - start:.1f} s: "
        "a load, or the training when nothing was cached; not included in the curves' minutes)."
    )
    print(teacher_line, flush=True)

    args.source, source_minutes, source_text = None, None, ""
    if set(args.modes) & set(SOURCE_MODES):
        start = time.perf_counter()
        args.source = source_dir(args) if args.summary_only else source_run(args)
        if latest_checkpoint(args.source) is not None:
            source_minutes = read_metrics(args.source)[-1]["elapsed_s"] / 60
            source_text = source_line(args.source) + (
                f" Ready for this run in {time.perf_counter() - start:.0f} s."
            )
            print(source_text, flush=True)

    csv_path = args.out / "transfer-few.csv"
    rows = read_rows(csv_path, ("images", "seed", "step"), ("minutes", "fid"), ("d_overfit_gap",))
    for mode in [] if args.summary_only else args.modes:
        for seed in args.seeds:
            same, fresh = (args.images, mode, seed), run_mode(args, mode, seed)
            if fresh:  # a run stopped before its first evaluation keeps the rows it had
                rows = [r for r in rows if (r["images"], r["mode"], r["seed"]) != same] + fresh
                write_rows(csv_path, rows, FIELDS)
            table = summarise(rows, args.images, args.minutes, args.baseline, source_minutes)
            print("\n".join(table), flush=True)

    lines = summarise(rows, args.images, args.minutes, args.baseline, source_minutes)
    steps = equal_steps(rows, args.images)
    starts = class_start_lines(rows, args.images)
    print("\n".join(lines + ["", "At equal steps:", *steps]) + "\n" + teacher_line)
    if starts:
        print("\n".join(["Class start, teacher against random:", *starts]))
    print(source_text)
    png_name = f"transfer-{args.images}.png" if args.title is None else f"{slug(args.title)}.png"
    png = Path("docs/images" if args.write_docs else args.out) / png_name
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, args.images, png)
    grid_png = png.with_name(png.stem + "-samples.png")
    if args.grids:
        modes = [m for m in measured_modes(rows) if m in args.modes]
        runs = {m: args.out / "runs" / f"transfer-{args.images}-{m}-seed0" for m in modes}
        runs = {m: r for m, r in runs.items() if latest_checkpoint(r)}
        if runs:
            class_grid(runs, grid_png)
    if args.write_docs:
        body = "\n".join(
            [
                f"Machine: {machine}.",
                "",
                f"Command: `python benchmarks/transfer.py --preset {args.preset} --images "
                f"{args.images} --minutes {args.minutes:g} {modes_and_seeds(rows, args.images)}"
                + "".join(f" --set {shlex.quote(s)}" for s in args.set)
                + "`; "
                f"generator data: {args.images} images of {', '.join(GENERATOR_CLASSES)}; "
                f"evaluator FID of {args.num_samples} EMA samples against the test images of "
                "those classes (evaluator trained on all ten classes; it shares nothing with the "
                "teacher). Cells: mean (min–max) over seeds.",
                "",
                f"![FID and D's overfitting gap against wall time](images/{png.name})",
                "",
                *lines,
                "",
                "At equal steps (each transfer mode's last evaluation against its twin without "
                "transfer, same seed, interpolated at that step):",
                "",
                *steps,
                "",
                teacher_line,
                *(["", source_text] if source_text else []),
                *(
                    [
                        "",
                        "New classes started from the teacher's soft prediction (`source`) "
                        "against a random start (`source-random`), same seeds:",
                        "",
                        *starts,
                    ]
                    if starts
                    else []
                ),
                *(
                    ["", f"![Samples per class, seed 0 of each mode](images/{grid_png.name})"]
                    if args.grids
                    else []
                ),
            ]
        )
        title = args.title or f"Knowledge transfer with {args.images} images"
        write_section("docs/benchmarks.md", title, body)


if __name__ == "__main__":
    main()
