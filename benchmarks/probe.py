"""One short probe: train a preset (+ overrides) for N CPU minutes, judge 5,000 samples, print one
JSON line. Used to choose preset settings; compare probes of equal minutes run one at a time.

    python benchmarks/probe.py NAME PRESET MINUTES [section.key=value ...]
    python benchmarks/probe.py bn-d sagan 4 model.d_batchnorm=true model.spectral_norm_d=false
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import knowgen  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.metrics.evaluate import evaluate_generator  # noqa: E402
from knowgen.train.evaluation import CONDITIONAL  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

# what training-time evaluation logs (one list of metric names), plus every "<kind> alone" score
KEYS = ["fid", "recall", "precision", "modes_covered", *CONDITIONAL]


def timed_settings(minutes: float) -> list[str]:
    """Train for `minutes` of wall time, writing nothing but the final checkpoint."""
    return [
        "train.steps=none",
        f"train.minutes={minutes}",
        "train.tensorboard=false",
        "train.checkpoint_every=100000",
        "train.sample_every=100000",
    ]


def code_clustering(discriminator, cfg) -> dict[str, float]:
    from knowgen.data import load_dataset
    from knowgen.represent.features import discriminator_features
    from knowgen.represent.probe import clustering_accuracy, nmi

    test = load_dataset(replace(cfg.data, split="test"))
    _, codes = discriminator_features(discriminator, test.images)
    labels = test.labels.numpy()
    assignments = codes[:, 0].astype(int)
    return {
        "c1_accuracy": round(clustering_accuracy(assignments, labels), 4),
        "c1_nmi": round(nmi(assignments, labels), 4),
    }


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    name, preset, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cfg = resolve_config(preset, timed_settings(minutes) + sys.argv[4:])
    run_dir = Path("benchmarks/results/probes") / name
    state = train(cfg, run_dir, overwrite=True)
    eval_cfg = replace(cfg.eval, num_samples=5000)
    text = state.conditioning.text
    scores = evaluate_generator(knowgen.load(run_dir), cfg.data, eval_cfg, text=text)
    keys = KEYS + [k for k in scores if "_alone_" in k and k not in KEYS]
    picked = {k: round(scores[k], 3) for k in keys if scores.get(k) is not None}
    if state.discriminator.q_head is not None:  # InfoGAN: c1 as a clustering of the test split
        picked |= code_clustering(state.discriminator, cfg)
    print(json.dumps({"name": name, "steps": state.step, **picked}), flush=True)


if __name__ == "__main__":
    main()
