"""Knowledge representation benchmark: what generative training learned without labels.

Trains each preset for N CPU minutes on Fashion-MNIST (or probes runs you name), then probes its
features of real images: linear probe and k-NN accuracy on the test split (fitted on the train
split), InfoGAN's categorical code as an unsupervised clustering (Hungarian accuracy, NMI), each
beside the same probe on raw pixels; optionally the inversion encoder's features too.

    python benchmarks/representation.py --presets infogan dcgan --minutes 10
    python benchmarks/representation.py --presets --runs runs/infogan runs/dcgan --encoder
    python benchmarks/representation.py ... --write-docs   # CSV + traversal pictures in docs/
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.probe import timed_settings  # noqa: E402
from knowgen.config import resolve_config  # noqa: E402
from knowgen.train.checkpoint import latest_checkpoint  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

RESULTS = Path("benchmarks/results/represent")
DOCS = Path("docs")
COLUMNS = [
    "run",
    "features",
    "step",
    "linear_probe",
    "knn",
    "pixels_linear_probe",
    "pixels_knn",
    "c1_clustering_accuracy",
    "c1_nmi",
    "pixels_kmeans_accuracy",
    "pixels_kmeans_nmi",
]


def train_preset(preset: str, minutes: float) -> Path:
    run_dir = RESULTS / preset
    train(resolve_config(preset, timed_settings(minutes)), run_dir, overwrite=True)
    return run_dir


def write_traversals(run_dir: Path) -> None:
    """One traversal picture per code into docs/ (the same as `knowgen traverse`)."""
    import knowgen
    from knowgen.images import display_scale, label_grid_file, save_grid, to_uint8
    from knowgen.models.codes import traverse_code

    generator = knowgen.load(run_dir)
    for code in generator.codes:
        images, labels = traverse_code(generator.network, code, samples=10, steps=9, span=2.0)
        out = DOCS / "images" / f"infogan-traverse-{code}.png"
        scale = display_scale(images.shape[-1])
        save_grid(to_uint8(images), out, nrow=10, scale=scale)
        label_grid_file(out, labels, images.shape[-2] * scale)
        print(f"wrote {out}")


def markdown_table(rows: list[dict]) -> str:
    """Each run's probes (test split of the run's dataset) beside the raw-pixel baselines."""

    def pct(value) -> str:
        return f"{100 * value:.2f}%" if isinstance(value, float) else "-"

    lines = [
        "| run | features | step | linear probe | k-NN | code c1 clustering acc. / NMI |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        code = "-"
        if isinstance(row["c1_clustering_accuracy"], float):
            code = f"{pct(row['c1_clustering_accuracy'])} / {row['c1_nmi']:.3f}"
        lines.append(
            f"| {row['run']} | {row['features']} | {row['step']} | {pct(row['linear_probe'])} "
            f"| {pct(row['knn'])} | {code} |"
        )
    if rows:
        first = rows[0]
        lines.append(
            f"| raw pixels | - | - | {pct(first['pixels_linear_probe'])} "
            f"| {pct(first['pixels_knn'])} | k-means: {pct(first['pixels_kmeans_accuracy'])} / "
            f"{first['pixels_kmeans_nmi']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=["infogan", "dcgan"])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", nargs="*", type=Path, help="Also probe these existing runs.")
    parser.add_argument("--encoder", action="store_true", help="Also probe encoder features.")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    from knowgen.represent.probe import probe_run

    print(describe_machine(), flush=True)
    runs = [train_preset(p, args.minutes) for p in args.presets] + list(args.runs or [])
    rows = []
    for run_dir in runs:
        if latest_checkpoint(run_dir) is None:
            raise SystemExit(f"{run_dir} has no checkpoint")
        kinds = ["discriminator"] + (["encoder"] if args.encoder else [])
        for features in kinds:
            report = probe_run(run_dir, features=features, progress=lambda m: None)
            row = {"run": run_dir.name, **report}
            rows.append({k: row.get(k, "") for k in COLUMNS})
            print(
                ", ".join(
                    f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in rows[-1].items()
                ),
                flush=True,
            )
    out = RESULTS / "representation.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    for path in [out] + ([DOCS / "representation.csv"] if args.write_docs else []):
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {path}")
    table = markdown_table(rows)
    print(table)
    if args.write_docs:
        for run_dir in runs:
            write_traversals(run_dir)
        command = "python benchmarks/representation.py " + " ".join(sys.argv[1:])
        body = (
            f"Machine: {describe_machine()}.\n\nCommand: `{command}`. One training run (one "
            "seed) per row: no spread over seeds is known.\n\n"
            f"{table}\n"
        )
        write_section("docs/benchmarks.md", "Knowledge representation", body)


if __name__ == "__main__":
    main()
