"""Scaling benchmark: training images/s for 1 process vs N data-parallel processes (torchrun).

Each configuration trains the same preset for --steps steps at the same *global* batch, writing
nothing but metrics; the figure is the median of the logged images/s windows after the first
(warm-up). On a CPU machine the cores are shared: 1 process x C threads vs N processes x C/N
threads each (torchrun's default of 1 thread per process when N = C).

    python benchmarks/scaling.py                       # dcgan, 1 vs 2 processes, this CPU
    python benchmarks/scaling.py --presets dcgan sagan --write-docs
    python benchmarks/scaling.py --device cuda --batch 256 --gpu-options \
        --presets dcgan modern cgan modern-cgan    # one GPU: fp32 vs auto vs bf16 + NHWC + compile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_metrics  # noqa: E402
from benchmarks.machine import describe_machine, write_section  # noqa: E402

RESULTS = Path("benchmarks/results/scaling")
QUIET = [
    "train.tensorboard=false",
    "train.sample_every=1000000",
    "train.checkpoint_every=1000000",
]


def train_images_per_s(
    preset: str, processes: int, threads: int, steps: int, batch: int, extra: list[str]
) -> float:
    """Median logged images/s of one run (the first window is warm-up and dropped)."""
    out = RESULTS / f"{preset}-{processes}x{threads}"
    log_every = max(steps // 6, 1)
    settings = QUIET + [
        f"train.batch_size={batch}",
        f"train.num_threads={threads}",
        f"train.log_every={log_every}",
        *extra,
    ]
    command = ["-m", "knowgen", "train", "--preset", preset, "--steps", str(steps)]
    command += ["--out", str(out), "--overwrite"]
    for setting in settings:
        command += ["--set", setting]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    subprocess.run(launcher + command, check=True, env=env, capture_output=True, text=True)
    records = read_metrics(out)
    rates = [r["images_per_s"] for r in records if "images_per_s" in r][1:]
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["dcgan"])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--gpu-options", action="store_true", help="fp32 vs auto vs bf16+NHWC+compile"
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    cores = os.cpu_count() or 1
    rows = []
    for preset in args.presets:
        device = [f'train.device="{args.device}"']
        if not args.gpu_options:  # processes and threads compared at one precision, fp32
            device.append('train.precision="fp32"')
        if args.gpu_options:
            variants = {
                "fp32": device + ['train.precision="fp32"'],
                "precision auto (the default)": device + ['train.precision="auto"'],
                "bf16 + channels-last + compile": device
                + ['train.precision="bf16"', "train.channels_last=true", "train.compile=true"],
            }
            for name, extra in variants.items():
                rate = train_images_per_s(preset, 1, cores, args.steps, args.batch, extra)
                rows.append({"preset": preset, "setup": name, "images_per_s": rate})
                print(json.dumps(rows[-1]), flush=True)
            continue
        for processes, threads in ((1, cores), (1, max(cores // args.processes, 1)),
                                   (args.processes, max(cores // args.processes, 1))):  # fmt: skip
            rate = train_images_per_s(preset, processes, threads, args.steps, args.batch, device)
            setup = f"{processes} process{'es' if processes > 1 else ''} x {threads} thread(s)"
            rows.append({"preset": preset, "setup": setup, "images_per_s": rate})
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| preset | setup | images/s | vs first row |", "| --- | --- | ---: | ---: |"]
    for row in rows:
        base = next(r for r in rows if r["preset"] == row["preset"])["images_per_s"]
        lines.append(
            f"| {row['preset']} | {row['setup']} | {row['images_per_s']:.0f} | "
            f"{row['images_per_s'] / base:.2f}x |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        command = "python benchmarks/scaling.py " + " ".join(sys.argv[1:])
        body = (
            f"Machine: {describe_machine()}.\n\nCommand: `{command}` (global batch "
            f"{args.batch}, {args.steps} steps per row, median of the logged windows after the "
            f"first).\n\n{table}\n"
        )
        write_section("docs/benchmarks.md", "Scaling out", body)


if __name__ == "__main__":
    main()
