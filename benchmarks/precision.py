"""What `train.precision = "auto"` picks on this machine and why, against the training speed it
buys: the micro-benchmark's bf16/fp32 ratio (the one "auto" caches, measured again here), then
each preset's training images/s in fp32, bf16, with channels-last and with torch.compile.

    python benchmarks/precision.py --presets dcgan modern cgan --steps 300 --write-docs
    python benchmarks/precision.py --device cuda --batch 256      # a GPU (no docs written)
    python benchmarks/precision.py --presets dcgan cgan --equal-steps 3000 --seeds 0 1 2

Rows are medians of the logged images/s windows after the first (warm-up), one run per row,
run one after another; ratios are against the fp32 row of the same preset in the same run.

`--equal-steps N` asks the other half of the question, whether bf16 costs quality: each preset
and seed trains N steps in fp32 and in bf16 (the same seed draws the same batches and noise) and
the evaluator's FID at step N is compared, mean (min-max) over seeds and the per-seed ratio.
Speed is not what this measures, so it does not matter how long each run takes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_metrics, spread  # noqa: E402
from benchmarks.machine import describe_machine, kernel_choices, write_section  # noqa: E402
from benchmarks.scaling import QUIET, train_images_per_s  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.precision import (  # noqa: E402
    auto_precision,
    cpu_bf16_units,
    describe,
    measure_bf16_speedup,
)

NCHW = "train.channels_last=false"  # explicit: a preset may set channels-last itself
VARIANTS = {
    "fp32": ['train.precision="fp32"', NCHW],
    "bf16": ['train.precision="bf16"', NCHW],
    "fp32 + channels-last": ['train.precision="fp32"', "train.channels_last=true"],
    "bf16 + channels-last": ['train.precision="bf16"', "train.channels_last=true"],
    "fp32 + compile": ['train.precision="fp32"', NCHW, "train.compile=true"],
}


def fid_after_steps(preset: str, precision: str, seed: int, steps: int, samples: int) -> float:
    """The evaluator FID of `preset`'s EMA generator after `steps` steps in `precision`."""
    from knowgen.train.loop import train

    settings = QUIET + [
        f"train.steps={steps}",
        f"train.seed={seed}",
        f'train.precision="{precision}"',
        f"eval.every_steps={steps}",
        f"eval.num_samples={samples}",
        "eval.keep_best=false",
    ]
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        train(resolve_config(preset, settings), run)
        records = read_metrics(run)
    return [r["fid"] for r in records if "fid" in r][-1]


def equal_steps_table(presets: list[str], seeds: list[int], steps: int, samples: int) -> list[str]:
    """FID at step `steps` in fp32 and bf16 per preset over seeds, and the bf16/fp32 ratios."""
    lines = [
        f"| preset | seeds | FID fp32 @ {steps:,} steps | FID bf16 @ {steps:,} steps | "
        "bf16 / fp32 per seed |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for preset in presets:
        fids = {p: [] for p in ("fp32", "bf16")}
        for seed in seeds:
            for precision, values in fids.items():
                values.append(fid_after_steps(preset, precision, seed, steps, samples))
                print(f"{preset} seed {seed} {precision}: FID {values[-1]:.1f}", flush=True)
        ratios = ", ".join(f"{b / f:.2f}" for f, b in zip(fids["fp32"], fids["bf16"], strict=True))
        lines.append(
            f"| `{preset}` | {len(seeds)} | {spread(fids['fp32'])} | {spread(fids['bf16'])} | "
            f"{ratios} |"
        )
    return lines


def rate_cell(runs: dict[str, list[float]], name: str) -> str:
    """The median images/s of a variant's runs (their range with repeats), and its ratio to
    fp32's median."""
    median = statistics.median(runs[name])
    text = f"{median:.0f}"
    if len(runs[name]) > 1:
        text += f" ({min(runs[name]):.0f}-{max(runs[name]):.0f})"
    if name == "fp32":
        return text
    return f"{text}, {median / statistics.median(runs['fp32']):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["dcgan", "modern", "cgan"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--equal-steps", type=int, help="compare FID of fp32 and bf16 at N steps")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="which speed rows (fp32 is always measured: the ratios' base)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds over the variants, interleaved; cells give the median",
    )
    parser.add_argument("--title", default="Precision and memory layout", help="docs section")
    args = parser.parse_args()
    variants = {k: v for k, v in VARIANTS.items() if k == "fp32" or k in args.variants}
    device = torch.device(args.device)
    machine = describe_machine()
    print(machine, flush=True)
    if args.equal_steps:
        lines = equal_steps_table(args.presets, args.seeds, args.equal_steps, args.num_samples)
        print("\n".join(lines))
        if args.write_docs:
            command = (
                f"python benchmarks/precision.py --presets {' '.join(args.presets)} "
                f"--equal-steps {args.equal_steps} --seeds {' '.join(map(str, args.seeds))} "
                f"--num-samples {args.num_samples} --write-docs"
            )
            body = (
                f"Machine: {machine}. Command: `{command}` (evaluator FID of the EMA generator, "
                f"{args.num_samples} samples against the 10,000 test images, mean (min-max) over "
                "seeds; each seed draws the same data and noise in both precisions).\n\n"
            )
            write_section("docs/benchmarks.md", "Precision and quality at equal steps",
                          body + "\n".join(lines))  # fmt: skip
        return
    units = ", ".join(cpu_bf16_units()) or "none"
    micro = [measure_bf16_speedup(device) for _ in range(3)]
    choice = auto_precision(device)
    lines = [
        f"bf16 units: {units}; micro-benchmark bf16/fp32 speed: "
        f"{statistics.median(micro):.2f}x (median of 3: "
        + ", ".join(f"{m:.2f}" for m in micro)
        + f"); auto: {describe(choice)}",
        "",
        "| preset | " + " | ".join(variants) + " |",
        "| --- | " + " | ".join("---:" for _ in variants) + " |",
    ]
    threads = torch.get_num_threads()
    for preset in args.presets:
        runs: dict[str, list[float]] = {}
        for _ in range(args.repeats):  # interleaved: a slow spell of the machine hits every row
            for name, settings in variants.items():
                extra = settings + [f'train.device="{args.device}"']
                try:
                    resolve_config(preset, extra)
                except ValueError as refused:  # e.g. compile with R1: named in the printout
                    print(f"{preset} {name}: refused ({refused})", flush=True)
                    continue
                rate = train_images_per_s(preset, 1, threads, args.steps, args.batch, extra)
                runs.setdefault(name, []).append(rate)
                print(f"{preset} {name}: {rate:.0f} img/s", flush=True)
        cells = [rate_cell(runs, name) if name in runs else "refused" for name in variants]
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.write_docs and device.type == "cpu":
        body = "\n".join(
            [
                f"Machine: {machine}. Kernels: {kernel_choices()}. Command: `python "
                f"benchmarks/precision.py --presets {' '.join(args.presets)} --steps "
                f"{args.steps} --variants {' '.join(repr(v) for v in variants)} --repeats "
                f"{args.repeats} --write-docs` (training images/s, batch {args.batch}, median of "
                "the logged windows after the first; with repeats, the median (min-max) of the "
                "runs; ratio to the fp32 cell).",
                "",
                *lines,
            ]
        )
        write_section("docs/benchmarks.md", args.title, body)


if __name__ == "__main__":
    main()
