"""How long `knowgen evaluate RUN --n 10000` takes from the command line, on an empty cache (the
test split's features computed) and on a warm one, over repeats; and the metric values, which a
speed-up must leave alone (compare the printed JSON before and after a change).

The run is a short `cgan` run (50 steps: the time does not depend on how good the samples are).
Each evaluation is a fresh process, as a user's is. Set the kernel choices of another CPU kind
in the environment to measure it here, e.g. an AVX2-only machine:

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \\
        python benchmarks/evaluate_speed.py [--repeats 3] [--preset cgan]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, kernel_choices  # noqa: E402

METRICS = ("fid", "kid", "precision", "recall", "density", "coverage", "is", "cond_acc")


def knowgen(*args: str, cache: Path) -> float:
    """Seconds that one `knowgen ...` process took, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "knowgen", *args], check=True, capture_output=True,
                   env=os.environ | {"KNOWGEN_CACHE": str(cache)})  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cgan")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}; kernels: {kernel_choices()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run, cache = Path(tmp) / "run", Path(tmp) / "cache"
        knowgen("train", "--preset", args.preset, "--steps", "50", "--out", str(run), cache=cache)
        fresh, warm = [], []
        for _ in range(args.repeats):
            shutil.rmtree(cache, ignore_errors=True)  # the evaluator is shipped: features only
            fresh.append(knowgen("evaluate", str(run), "--n", str(args.n), cache=cache))
            warm.append(knowgen("evaluate", str(run), "--n", str(args.n), cache=cache))
        scores = json.loads((run / "eval.json").read_text())
    scores = scores.get("scores", scores)
    print(f"knowgen evaluate {args.preset} run --n {args.n}, {args.repeats} repeats")
    for name, times in (("empty cache", fresh), ("warm cache", warm)):
        spread = f"{min(times):.1f}-{max(times):.1f}"
        print(f"  {name}: median {statistics.median(times):.1f} s ({spread})")
    print("metrics:", json.dumps({k: scores[k] for k in METRICS if k in scores}))


if __name__ == "__main__":
    main()
