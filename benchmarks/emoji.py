"""Emoji: FID against wall time for `emoji` and `dcgan` on the same data, what the samples obey,
and the training speed at 32 and 64 px.

Every (variant, seed) trains for `--minutes` in its own run and is evaluated `--points` times
(evaluation time is not training time) by the emoji evaluator against the training images. For
a fusion variant each evaluation also gives the group accuracy of samples asked for the groups
and styles of unseen (test) emoji, their style accuracy, the style accuracy with the style
alone, and the same on the held-out pairs (emoji trained in one style, asked in the other).
Rows accumulate in benchmarks/results/emoji-seeds.csv (a rerun of a variant and seed replaces
its rows). `--grids` draws the README grid (a row per group, google then twitter) from the
first seed's `emoji` run; `--speed` measures images/s of `emoji` and `emoji-64`.

    python benchmarks/emoji.py --seeds 0 1 2 --grids --speed --write-docs

A new style from 200 images (issue 37, scenario b): `twitter-200` trains `emoji` on 200 Twemoji
images from scratch; `twitter-200-from-google` starts it from `emoji` trained on every Noto
(google) training image for `--source-minutes` (once, cached under `--out`/sources; its cost is
printed and not inside the curves' minutes). Both are judged on unseen emoji asked in the
Twemoji style (group and style accuracy) and by FID against the Twemoji training images.

    python benchmarks/emoji.py --variants twitter-200 twitter-200-from-google --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_metrics, read_rows, spread, value_at, write_rows  # noqa: E402
from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.quality import curves_of, plot, timed_run  # noqa: E402
from benchmarks.transfer import train_once  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

SECTION = "Emoji: group, style and FID at 32 px"
VARIANTS = {  # name -> (preset, settings): dcgan on exactly the emoji preset's data
    "emoji": ("emoji", []),
    "dcgan": ("dcgan", ['data.name="emoji"', "data.image_size=32", 'eval.split="train"']),
    "emoji-text": ("emoji-text", []),
    "twitter-200": ("emoji", ['data.styles=["twitter"]', "data.limit=200"]),
    "twitter-200-from-google": ("emoji", ['data.styles=["twitter"]', "data.limit=200"]),
}
FROM_SOURCE = {"twitter-200-from-google": ["google"]}  # variant -> the styles its source learned
SCORES = {  # CSV column -> metrics.jsonl key
    "fid": "fid",
    "precision": "precision",
    "recall": "recall",
    "group_acc": "class_accuracy",
    "style_acc": "factor_style_accuracy",
    "style_alone_acc": "style_alone_factor_style_accuracy",
    "heldout_group_acc": "heldout_class_accuracy",
    "heldout_style_acc": "heldout_factor_style_accuracy",
    "heldout_fid": "heldout_fid",
}
FIELDS = ["variant", "seed", "step", "minutes", *SCORES]
CSV_NAME = "emoji-seeds.csv"


def source_run(args, styles: list[str]) -> Path:
    """`emoji` trained on every training image of `styles` for `args.source_minutes`, once."""
    run = args.out / "sources" / f"emoji-{'-'.join(styles)}-{args.source_minutes:g}min"
    train_once("emoji", [f"data.styles={json.dumps(styles)}"], args.source_minutes, run)
    last = read_metrics(run)[-1]
    print(f"Source `{run.name}`: `emoji` on every {'/'.join(styles)} training image, "
          f"{last['elapsed_s'] / 60:.1f} min ({last['step']:,} steps) on this machine, once and "
          "cached; not inside the curves' minutes.", flush=True)  # fmt: skip
    return run


def run_variant(args, variant: str, seed: int) -> list[dict]:
    preset, settings = VARIANTS[variant]
    if variant in FROM_SOURCE:
        source = source_run(args, FROM_SOURCE[variant])
        settings = [*settings, f"transfer.source={json.dumps(str(source))}"]
    run_dir = args.out / "runs" / f"emoji-{variant}-seed{seed}"
    rows = []
    for record in timed_run(args, preset, settings, seed, run_dir):
        row = {"variant": variant, "seed": seed, "step": record["step"],
               "minutes": round(record["elapsed_s"] / 60, 3)}  # fmt: skip
        rows.append(row | {column: record.get(key) for column, key in SCORES.items()})
    return rows


def summary(rows: list[dict], minutes: float) -> list[str]:
    """Per variant: FID mean (min-max over seeds) at a few times, then the final scores."""
    by_variant = curves_of(rows)
    points = [m for m in (2, 4, 6, 8, 10) if m <= minutes]
    finals = ["group_acc", "style_acc", "style_alone_acc", "heldout_group_acc", "heldout_style_acc"]
    lines = [
        "| variant | seeds | " + " | ".join(f"FID @ {m} min" for m in points)
        + " | steps | group acc. | style acc. | style alone | held-out pairs: group | "
        "held-out pairs: style |",
        "| --- | ---: | " + " | ".join("---:" for _ in points) + " | ---: " * 6 + "|",
    ]  # fmt: skip
    for variant, by_seed in by_variant.items():
        cells = [spread([v for c in by_seed.values() if (v := value_at(c, m)) is not None])
                 for m in points]  # fmt: skip
        ends = [c[-1]["step"] for c in by_seed.values()]
        steps = f"{statistics.mean(ends):,.0f} ({min(ends):,}–{max(ends):,})"
        for key in finals:
            values = [100 * c[-1][key] for c in by_seed.values() if c[-1][key] is not None]
            cells.append(f"{spread(values)}%" if values else "-")
        lines.append(f"| `{variant}` | {len(by_seed)} | " + " | ".join(cells[: len(points)])
                     + f" | {steps} | " + " | ".join(cells[len(points):]) + " |")  # fmt: skip
    return lines


def per_run(rows: list[dict]) -> list[str]:
    last: dict[tuple[str, int], dict] = {}
    for row in rows:
        last[(row["variant"], row["seed"])] = row
    out = []
    for (variant, seed), row in sorted(last.items()):
        extra = ", ".join(f"{k} {100 * row[k]:.1f}%" for k in SCORES if k.endswith("_acc")
                          and row[k] is not None)  # fmt: skip
        out.append(f"- `{variant}` seed {seed}: step {row['step']:,} at {row['minutes']:.1f} "
                   f"min, FID {row['fid']:.1f}" + (f", {extra}" if extra else ""))  # fmt: skip
    return out


def group_grid(run_dir: Path, path: Path, per_style: int = 6) -> None:
    """One row per group: `per_style` google samples, then as many twitter ones (same noise)."""
    import torch

    from knowgen.sampling import Samples, load

    generator = load(run_dir)
    rows, labels = [], []
    for group in generator.class_names:
        both = [generator.sample(per_style, seed=0, class_=group, style=s).images
                for s in ("google", "twitter")]  # fmt: skip
        rows.append(Samples(torch.cat(both), [group]))
        labels.append(f"{group}: google | twitter")
    Samples.rows(rows, labels).save_grid(path, nrow=2 * per_style, scale=3)


def pairs_grid(run_dir: Path, path: Path, count: int = 8, per_row: int = 4) -> list[str]:
    """Held-out pairs of a text + style run: per emoji, its real image in the style it was
    trained in, the real one in the style it never was, then `per_row` samples asked for its
    name in that unseen style. Returns the names shown, top to bottom."""
    import torch

    from knowgen.data.datasets import load_dataset, load_held_out_pairs
    from knowgen.data.emoji import STYLES
    from knowgen.sampling import Samples, load

    generator = load(run_dir)
    data = resolve_config("emoji-text", []).data
    pairs, train_set = load_held_out_pairs(data), load_dataset(data)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[:count]
    rows, labels = [], []
    for i in order.tolist():
        name, style = pairs.descriptions[i], STYLES[int(pairs.attributes["style"][i])]
        emoji = pairs.attributes["emoji"][i]
        trained = train_set.images[train_set.attributes["emoji"] == emoji][:1]
        made = generator.sample(per_row, seed=0, text=name, style=style).images
        rows.append(Samples(torch.cat([trained, pairs.images[i : i + 1], made]), [name]))
        labels.append(f"{name}: trained style | real {style} (never trained) | asked {style}")
    Samples.rows(rows, labels).save_grid(path, nrow=per_row + 2, scale=3)
    return labels


def speed(seconds: float) -> list[str]:
    """Images/s (median over log windows) of `emoji` and `emoji-64`, one seed each."""
    import tempfile

    out, medians = [], []
    for preset in ("emoji", "emoji-64"):
        settings = ["train.steps=none", f"train.minutes={seconds / 60}", "train.log_every=10",
                    "train.checkpoint_every=100000"]  # fmt: skip
        cfg = resolve_config(preset, settings)
        with tempfile.TemporaryDirectory() as tmp:
            train(cfg, Path(tmp) / "run")
            rates = [r["images_per_s"] for r in read_metrics(Path(tmp) / "run")
                     if "images_per_s" in r]  # fmt: skip
        medians.append(statistics.median(rates[1:] or rates))  # the first window warms up
        out.append(f"| `{preset}` | {cfg.data.image_size} px | {medians[-1]:,.0f} |")
        print(out[-1], flush=True)
    ratio = medians[0] / medians[1]
    return ["| preset | size | images/s (median of log windows) |", "| --- | ---: | ---: |",
            *out, "", f"32 px trains at {ratio:.1f}x the images/s of 64 px."]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["emoji", "dcgan"], choices=VARIANTS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=5)
    parser.add_argument("--source-minutes", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--grids", action="store_true")
    parser.add_argument("--speed", type=float, default=0, help="seconds per preset (0: skip)")
    parser.add_argument(
        "--pairs-grid",
        type=Path,
        help="a text + style run to draw the "
        "held-out pairs of (docs/images/emoji-heldout-pairs.png)",
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--command",
        help="the command line(s) the docs name, when the rows came from several invocations",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    print(machine, flush=True)
    csv_path = args.out / CSV_NAME
    rows = read_rows(csv_path, ("seed", "step"), ("minutes", "fid"), tuple(SCORES)[1:])
    if not args.summary_only:
        for seed in args.seeds:  # seeds outermost: a cut-short run still compares variants
            for variant in args.variants:
                fresh = run_variant(args, variant, seed)
                if fresh:  # a run stopped before its first evaluation keeps the rows it had
                    rows = [r for r in rows if (r["variant"], r["seed"]) != (variant, seed)]
                    write_rows(csv_path, rows + fresh, FIELDS)
                    rows += fresh
                print(per_run(fresh)[-1] if fresh else f"{variant} {seed}: no rows", flush=True)
    table = summary(rows, args.minutes)
    print("\n".join(table))
    images = Path("docs/images")
    if args.grids:
        images.mkdir(parents=True, exist_ok=True)
        group_grid(args.out / "runs" / "emoji-emoji-seed0", images / "emoji-groups.png")
    if args.pairs_grid:
        images.mkdir(parents=True, exist_ok=True)
        pairs_grid(args.pairs_grid, images / "emoji-heldout-pairs.png")
    speed_lines = speed(args.speed) if args.speed else []
    if args.write_docs:
        plot(rows, images / "emoji-fid-vs-time.png", "FID vs training emoji (evaluator features)")
        command = args.command or (
            f"`python benchmarks/emoji.py --seeds {' '.join(map(str, args.seeds))} --minutes "
            f"{args.minutes:g} --points {args.points} --num-samples {args.num_samples}`"
        )
        body = "\n".join([
            f"Measured on {machine}, {command}. "
            "FID: evaluator features, EMA samples against the training images; accuracies: the "
            "emoji evaluator (group) and style classifier on samples asked for the group and "
            "style of unseen emoji; held-out pairs: emoji trained in one style, asked in the "
            "other. Mean (min-max) over seeds.",
            "", *table, "", "![FID against time](images/emoji-fid-vs-time.png)", "",
            "Per run (last evaluation):", "", *per_run(rows),
            *(["", "Training speed, 32 against 64 px:", "", *speed_lines] if speed_lines else []),
        ])  # fmt: skip
        write_section("docs/benchmarks.md", SECTION, body)


if __name__ == "__main__":
    main()
