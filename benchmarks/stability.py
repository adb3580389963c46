"""Start-up collapse screen: how many seeds of a preset (+ settings) collapse in the first steps.

A GAN whose D wins outright in its first few dozen steps rarely recovers: G gets no useful
gradient and its samples freeze (one of three 10-minute `modern` runs at lr 2e-3 did this: FID
1,006 from minute 3 on). The tell comes early: D's loss falls from ~0.4 (healthy RpGAN) to ~0.01
within 100 steps. This screen trains each seed for `--steps` steps and counts the runs whose
mean D adversarial loss over the last logged window is below `--threshold`: cheap (seconds per
seed), so a setting can be screened over many seeds before it is timed over few.

    python benchmarks/stability.py --variants modern 'modern:train.lr_d=1e-3' --seeds 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.curves import read_metrics  # noqa: E402
from benchmarks.machine import describe_machine  # noqa: E402
from benchmarks.quality import parse_variant  # noqa: E402
from benchmarks.scaling import QUIET  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.loop import train  # noqa: E402


def final_d_loss(variant: str, seed: int, steps: int, folder: Path) -> float:
    """Mean D adversarial loss of the last logged window of a `steps`-step run."""
    preset, settings = parse_variant(variant)
    quiet = QUIET + [f"train.steps={steps}", f"train.seed={seed}", "train.log_every=50"]
    run = folder / f"seed{seed}"
    train(resolve_config(preset, quiet + settings), run, overwrite=True)
    return [r["d_adv"] for r in read_metrics(run) if "d_adv" in r][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["modern"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threshold", type=float, default=0.1)
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    for variant in args.variants:
        with tempfile.TemporaryDirectory() as folder:
            losses = [final_d_loss(variant, s, args.steps, Path(folder)) for s in range(args.seeds)]
        collapsed = [s for s, loss in enumerate(losses) if loss < args.threshold]
        print(
            f"{variant}: {len(collapsed)}/{args.seeds} seeds collapsed (D loss < "
            f"{args.threshold} at step {args.steps}: seeds {collapsed}); D losses "
            + ", ".join(f"{loss:.3f}" for loss in losses),
            flush=True,
        )


if __name__ == "__main__":
    main()
