"""Knowledge fusion benchmark: one generator obeying class, colour and structure together.

Trains the `fusion` preset on fashion-mnist-color once per fusion mode for --minutes of CPU time
each (equal wall time), then asks for the knowledge of real test images: class accuracy (the
dataset's evaluator), median hue error, structure IoU, their joint success, each kind alone, and
the same on the (class, colour) pairs held out of training.

    python benchmarks/fusion.py --minutes 10 --write-docs
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
]


def run_mode(mode: str, minutes: float, num_samples: int, train_it: bool = True) -> dict:
    """Train one fusion mode (or, with `train_it` False, reload its finished run) and score it."""
    from knowgen.config import resolve_config
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.train.loop import train

    cfg = resolve_config("fusion", timed_settings(minutes) + [f'model.fusion="{mode}"'])
    if not train_it:
        from knowgen.export import load_generator_and_meta

        generator, meta = load_generator_and_meta(RESULTS / mode)
        eval_cfg = replace(cfg.eval, num_samples=num_samples)
        scores = evaluate_generator(generator, cfg.data, eval_cfg)
        return {"mode": mode, "step": meta["step"]} | scores
    state = train(cfg, RESULTS / mode, overwrite=True)
    scores = evaluate_generator(
        state.ema.model, cfg.data, replace(cfg.eval, num_samples=num_samples)
    )
    return {"mode": mode, "step": state.step} | scores


def write_pictures(run_dir: Path) -> list[Path]:
    """Each kind varying alone along the rows (the others left out), and the held-out pairs."""
    import torch

    from knowgen.cli.sample import write_fusion_rows
    from knowgen.data import DataConfig, load_dataset
    from knowgen.data.color import structure_mask
    from knowgen.export import load_generator_and_meta
    from knowgen.images import save_grid

    generator, meta = load_generator_and_meta(run_dir)
    out = DOCS / "images"
    pictures = []
    names = list(generator.class_names)
    path = out / "fusion-class-alone.png"
    write_fusion_rows(generator, names, [], [], 28, 8, 0, path, None)
    pictures.append(path)
    path = out / "fusion-color-alone.png"
    write_fusion_rows(generator, [], ["red", "yellow", "green", "cyan", "blue", "magenta"], [],
                      28, 8, 0, path, None)  # fmt: skip
    pictures.append(path)
    test = load_dataset(DataConfig(name="fashion-mnist-color", split="test"))
    masks_dir = RESULTS / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    structures = []
    for i in (0, 1, 2, 3, 5):  # five test silhouettes, saved as the PNGs --structure reads
        mask = structure_mask(test.images[i : i + 1])[0, 0]
        picture = (mask.repeat_interleave(4, 0).repeat_interleave(4, 1) * 255).to(torch.uint8)
        save_grid(picture[None, None].expand(1, 3, -1, -1), masks_dir / f"mask{i}.png")
        structures.append(masks_dir / f"mask{i}.png")
    path = out / "fusion-structure-alone.png"
    write_fusion_rows(generator, [], [], structures, 28, 8, 0, path, None)
    pictures.append(path)
    pairs = [p.split(":") for p in meta["data"].get("holdout_pairs", [])]
    if pairs:
        path = out / "fusion-heldout-pairs.png"
        classes = sorted({c for c, _ in pairs})
        colours = sorted({c for _, c in pairs})
        write_fusion_rows(generator, classes, colours, [], 28, 8, 0, path, None)
        pictures.append(path)
    return pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["cross-attention", "concat"])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--evaluate-existing", action="store_true", help="Score the runs already trained."
    )
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    rows = []
    for mode in args.modes:
        rows.append(run_mode(mode, args.minutes, args.num_samples, not args.evaluate_existing))
        print(
            json.dumps({k: v for k, v in rows[-1].items() if not isinstance(v, list)}), flush=True
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fusion.json").write_text(json.dumps(rows, indent=2) + "\n")
    header = "| fusion | " + " | ".join(name for _, name, _ in COLUMNS) + " |"
    lines = [header, "| --- |" + " ---: |" * len(COLUMNS)]
    for row in rows:
        cells = [
            fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in COLUMNS
        ]
        lines.append(f"| {row['mode']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        pictures = write_pictures(RESULTS / args.modes[0])
        command = "python benchmarks/fusion.py " + " ".join(sys.argv[1:])
        images = "\n\n".join(f"![{p.stem}]({p.relative_to(DOCS)})" for p in pictures)
        body = (
            f"Machine: {describe_machine()}.\n\nCommand: `{command}` ({args.minutes:g} training "
            f"minutes per mode, {args.num_samples:,} samples per row of scores; the knowledge "
            "asked for is that of real test images; held-out = the preset's "
            "`data.holdout_pairs`, never trained on).\n\n"
            f"{table}\n\nPictures from the `{args.modes[0]}` run (rows: what was given; the "
            "same noise in every row):\n\n" + images + "\n"
        )
        write_section("docs/benchmarks.md", "Knowledge fusion", body)


if __name__ == "__main__":
    main()
