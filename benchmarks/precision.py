"""What `train.precision = "auto"` picks on this machine and why, against the training speed it
buys: the micro-benchmark's bf16/fp32 ratio (the one "auto" caches, measured again here), then
each preset's training images/s in fp32, bf16 and with channels-last, one process.

    python benchmarks/precision.py --presets dcgan modern cgan --steps 300 --write-docs
    python benchmarks/precision.py --device cuda --batch 256      # a GPU (no docs written)

Rows are medians of the logged images/s windows after the first (warm-up), one run per row,
run one after another; ratios are against the fp32 row of the same preset in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.scaling import train_images_per_s  # noqa: E402
from knowgen.train.precision import (  # noqa: E402
    auto_precision,
    cpu_bf16_units,
    describe,
    measure_bf16_speedup,
)

VARIANTS = {
    "fp32": ['train.precision="fp32"'],
    "bf16": ['train.precision="bf16"'],
    "fp32 + channels-last": ['train.precision="fp32"', "train.channels_last=true"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["dcgan", "modern", "cgan"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    machine = describe_machine()
    print(machine, flush=True)
    units = ", ".join(cpu_bf16_units()) or "none"
    micro = [measure_bf16_speedup(device) for _ in range(3)]
    choice = auto_precision(device)
    lines = [
        f"bf16 units: {units}; micro-benchmark bf16/fp32 speed: "
        f"{statistics.median(micro):.2f}x (median of 3: "
        + ", ".join(f"{m:.2f}" for m in micro)
        + f"); auto: {describe(choice)}",
        "",
        "| preset | " + " | ".join(VARIANTS) + " |",
        "| --- | " + " | ".join("---:" for _ in VARIANTS) + " |",
    ]
    threads = torch.get_num_threads()
    for preset in args.presets:
        rates = {}
        for name, settings in VARIANTS.items():
            extra = settings + [f'train.device="{args.device}"']
            rates[name] = train_images_per_s(preset, 1, threads, args.steps, args.batch, extra)
            print(f"{preset} {name}: {rates[name]:.0f} img/s", flush=True)
        cells = [f"{rates['fp32']:.0f}"] + [
            f"{rate:.0f} ({rate / rates['fp32']:.2f}x)" for name, rate in rates.items()
            if name != "fp32"
        ]  # fmt: skip
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.write_docs and device.type == "cpu":
        body = "\n".join(
            [
                f"Machine: {machine}. Command: `python benchmarks/precision.py --presets "
                f"{' '.join(args.presets)} --steps {args.steps} --write-docs` (training images/s, "
                f"batch {args.batch}, median of the logged windows after the first; ratio to the "
                "fp32 row).",
                "",
                *lines,
            ]
        )
        write_section("docs/benchmarks.md", "Precision and memory layout", body)


if __name__ == "__main__":
    main()
