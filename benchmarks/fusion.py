"""Knowledge fusion benchmark: one generator obeying class, colour and structure together.

Trains a fusion preset (`fusion`: fashion-mnist-color; `fusion-shapes`: the procedural shapes)
once per fusion mode for --minutes of CPU time each (equal wall time), then asks for the knowledge
of real test images: class accuracy (the dataset's evaluator), median hue error, structure IoU,
their joint success, each kind alone, the same on the (class, colour) pairs held out of training,
and on shapes each factor classifier's verdict. `--guidance` also scores the first mode's run at
other knowledge guidance scales (no retraining).

    python benchmarks/fusion.py --minutes 10 --write-docs
    python benchmarks/fusion.py --preset fusion-shapes --modes cross-attention --minutes 10 \
        --guidance 1.5 2 --write-docs
    python benchmarks/fusion.py --modes cross-attention --minutes 2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.probe import timed_settings  # noqa: E402

RESULTS = Path("benchmarks/results/fusion")
DOCS = Path("docs")
COLUMNS = [
    ("step", "steps", "{:.0f}"),
    ("fid", "FID", "{:.1f}"),
    ("class_accuracy", "class", "{:.1%}"),
    ("hue_error_median", "hue err.", "{:.1f}°"),
    ("structure_iou", "IoU", "{:.3f}"),
    ("joint_accuracy", "joint", "{:.1%}"),
    ("heldout_class_accuracy", "held-out class", "{:.1%}"),
    ("heldout_hue_error_median", "held-out hue", "{:.1f}°"),
    ("heldout_structure_iou", "held-out IoU", "{:.3f}"),
    ("heldout_joint_accuracy", "held-out joint", "{:.1%}"),
    ("class_alone_class_accuracy", "class alone", "{:.1%}"),
    ("hue_alone_hue_error_median", "hue alone", "{:.1f}°"),
    ("structure_alone_structure_iou", "structure alone", "{:.3f}"),
    ("factor_size_accuracy", "size", "{:.1%}"),
    ("factor_position_accuracy", "position", "{:.1%}"),
    ("factor_rotation_accuracy", "rotation", "{:.1%}"),
    ("size_alone_factor_size_accuracy", "size alone", "{:.1%}"),
    ("position_alone_factor_position_accuracy", "position alone", "{:.1%}"),
    ("rotation_alone_factor_rotation_accuracy", "rotation alone", "{:.1%}"),
    ("text_alone_class_accuracy", "text alone: class", "{:.1%}"),
    ("text_alone_colour_accuracy", "text alone: colour", "{:.1%}"),
]


def run_mode(
    preset: str, mode: str, minutes: float, num_samples: int, train_it: bool = True
) -> dict:
    """Train one fusion mode (or, with `train_it` False, reload its finished run) and score it."""
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    cfg = resolve_config(preset, timed_settings(minutes) + [f'knowledge.fusion="{mode}"'])
    eval_cfg = replace(cfg.eval, num_samples=num_samples)
    if train_it:
        train(cfg, RESULTS / preset / mode, overwrite=True)
    return score_run(preset, mode, eval_cfg)


def score_run(preset: str, mode: str, eval_cfg, guidance: float = 1.0) -> dict:
    """Score a finished run (again, e.g. at another guidance scale)."""
    import knowgen
    from knowgen.config import resolve_config
    from knowgen.metrics.evaluate import evaluate_generator

    generator = knowgen.load(RESULTS / preset / mode)
    data = resolve_config(preset).data
    knowledge = replace(generator.knowledge, guidance=guidance)
    label = mode if guidance == 1.0 else f"{mode}, guidance {guidance:g}"
    scores = evaluate_generator(generator, data, eval_cfg, knowledge=knowledge)
    return {"mode": label, "step": generator.meta["step"]} | scores


TEXT_PICTURE = {  # descriptions for the text-alone picture, in the captions' own words
    "fashion-mnist-color": ["a red dress", "a blue sneaker", "a pair of green trousers",
                            "a yellow bag", "a magenta coat"],
    "shapes": ["a small red square at the top left", "a large blue triangle in the centre",
               "a medium green plus at the bottom right",
               "a large yellow ellipse at the top middle"],
}  # fmt: skip


def write_pictures(run_dir: Path, prefix: str) -> list[Path]:
    """Each kind varying alone along the rows (the others left out), the held-out pairs, and the
    guidance scale along the rows."""
    import torch

    import knowgen
    from knowgen.cli.sample import knowledge_options, write_rows
    from knowgen.data import DataConfig, load_dataset
    from knowgen.data.color import structure_mask
    from knowgen.images import save_grid
    from knowgen.knowledge.fusion import HUE_BINS

    generator = knowgen.load(run_dir)
    meta = generator.meta
    out = DOCS / "images"
    pictures = []

    def picture(name: str, classes=(), colours=(), structures=(), texts=(), guidance=(),
                attributes=()) -> None:  # fmt: skip
        path = out / f"{prefix}-{name}.png"
        options = knowledge_options(classes, colours, structures, texts, attributes)
        write_rows(generator, options, list(guidance), 8, 0, path, None)
        pictures.append(path)

    picture("class-alone", classes=generator.class_names)
    picture("color-alone", colours=HUE_BINS)
    test = load_dataset(DataConfig(name=meta["data"]["name"], split="test"))
    masks_dir = run_dir.parent / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    structures = []
    for i in (0, 1, 2, 3, 5):  # five test silhouettes, saved as the PNGs --structure reads
        mask = structure_mask(test.images[i : i + 1])[0, 0]
        image = (mask.repeat_interleave(4, 0).repeat_interleave(4, 1) * 255).to(torch.uint8)
        save_grid(image[None, None].expand(1, 3, -1, -1), masks_dir / f"mask{i}.png")
        structures.append(masks_dir / f"mask{i}.png")
    picture("structure-alone", structures=structures)
    pairs = [p.split(":") for p in meta["knowledge"].get("holdout_pairs", [])]
    if pairs:
        picture("heldout-pairs", sorted({c for c, _ in pairs}), sorted({c for _, c in pairs}))
    first_class, first_colour = pairs[0] if pairs else (generator.class_names[0], "red")
    picture("guidance", [first_class], [first_colour], structures[:1], (), [0.0, 1.0, 1.5, 2.0])
    if "text" in generator.kinds:
        picture("text-alone", texts=TEXT_PICTURE[meta["data"]["name"]])
    for kind in ("size", "rotation"):  # attribute kinds: the value along the rows
        if kind in generator.kinds:
            picture(f"{kind}-alone", attributes=[f"{kind}={v}" for v in (0.1, 0.5, 0.9)])
    if "position" in generator.kinds:
        places = ["position=0.1,0.1", "position=0.9,0.1", "position=0.5,0.5", "position=0.1,0.9"]
        picture("position-alone", attributes=places)
    return pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fusion", choices=["fusion", "fusion-shapes"])
    parser.add_argument("--modes", nargs="+", default=["cross-attention", "concat"])
    parser.add_argument(
        "--guidance", nargs="*", type=float, default=[], help="Also score these scales."
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--evaluate-existing", action="store_true", help="Score the runs already trained."
    )
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    rows = []

    def show(row: dict) -> None:
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)

    for mode in args.modes:
        train_it = not args.evaluate_existing
        show(run_mode(args.preset, mode, args.minutes, args.num_samples, train_it))
    from knowgen.config import resolve_config

    eval_cfg = replace(resolve_config(args.preset).eval, num_samples=args.num_samples)
    for scale in args.guidance:
        show(score_run(args.preset, args.modes[0], eval_cfg, scale))
    (RESULTS / args.preset).mkdir(parents=True, exist_ok=True)
    (RESULTS / args.preset / "fusion.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = [c for c in COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    header = "| fusion | " + " | ".join(name for _, name, _ in columns) + " |"
    lines = [header, "| --- |" + " ---: |" * len(columns)]
    for row in rows:
        cells = [
            fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in columns
        ]
        lines.append(f"| {row['mode']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        prefix = args.preset  # docs/images/fusion-*.png, fusion-shapes-*.png
        pictures = write_pictures(RESULTS / args.preset / args.modes[0], prefix)
        command = "python benchmarks/fusion.py " + " ".join(sys.argv[1:])
        images = "\n\n".join(f"![{p.stem}]({p.relative_to(DOCS)})" for p in pictures)
        body = (
            f"Machine: {describe_machine()}.\n\nCommand: `{command}` ({args.minutes:g} training "
            f"minutes per mode, {args.num_samples:,} samples per row of scores; the knowledge "
            "asked for is that of real test images; held-out = the preset's "
            "`knowledge.holdout_pairs`, never trained on). One seed per row, so no spread is "
            "known and the rows rank nothing (two runs of the preset differed by 14 points of "
            "joint score).\n\n"
            f"{table}\n\nPictures from the `{args.modes[0]}` run (rows: what was given; the "
            "same noise in every row):\n\n" + images + "\n"
        )
        title = {"fusion": "Knowledge fusion", "fusion-shapes": "Knowledge fusion on shapes"}
        write_section("docs/benchmarks.md", title[args.preset], body)


if __name__ == "__main__":
    main()
