"""`knowgen probe`: how much a run's unsupervised representation knows about the labels."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.cli.represent import run_data
from knowgen.data import load_dataset

NAME = "probe"

ROWS = [
    ("linear_probe", "pixels_linear_probe", "linear probe (logistic regression) accuracy"),
    ("knn", "pixels_knn", "k-NN (k=10, cosine) accuracy"),
]


def format_report(report: dict) -> str:
    """The probe table: each figure beside its raw-pixel baseline."""
    lines = [f"{'':44s} {'features':>9s} {'pixels':>9s}"]
    for ours, pixels, label in ROWS:
        lines.append(f"{label:44s} {report[ours]:9.2%} {report[pixels]:9.2%}")
    lines.append(
        f"{'k-means on pixels: clustering accuracy / NMI':44s} "
        f"{report['pixels_kmeans_accuracy']:9.2%} {report['pixels_kmeans_nmi']:9.3f}"
    )
    for key in sorted(k for k in report if k.endswith("_clustering_accuracy")):
        code = key.split("_")[0]
        label = f"InfoGAN {code}: clustering accuracy / NMI"
        lines.append(f"{label:44s} {report[key]:9.2%} {report[f'{code}_nmi']:9.3f}")
    lines.append(
        f"train {report['train_images']} images, test {report['test_images']} images "
        f"(features: {report['features']}, {report['feature_dim']} dims)"
    )
    return "\n".join(lines)


@reports_user_errors
def command(
    run_dir: Path = typer.Argument(..., help="A run directory (its newest checkpoint is read)."),
    data: str = typer.Option(None, help="Dataset name or image folder (default: the run's)."),
    n_train: int = typer.Option(None, help="Fit on the first N train images (default: all)."),
    features: str = typer.Option(
        "discriminator",
        help="discriminator (D's trunk; InfoGAN codes from Q) or encoder (the inversion "
        "encoder's trunk, trained on first use; InfoGAN codes read from E(x)).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Fit probes on train-split features of real images, report test-split accuracy (linear
    probe, k-NN; InfoGAN codes: clustering accuracy and NMI), each beside the same probe on raw
    pixels. Writes probe.json in the run directory. The labels are used only by the probes."""
    from knowgen.represent.features import discriminator_features, load_run_models
    from knowgen.represent.probe import probe_representation

    if features not in ("discriminator", "encoder"):
        raise ValueError(f"--features must be discriminator or encoder, got {features!r}")
    models = load_run_models(run_dir)
    extract = lambda images: discriminator_features(models.discriminator, images)  # noqa: E731
    if features == "encoder":
        extract = encoder_extractor(run_dir, models)
    splits = {}
    for split in ("train", "test"):
        dataset = load_dataset(run_data(models.cfg, data, split))
        if dataset.labels is None:
            raise ValueError("probes need a labelled dataset (class sub-folders or a named set)")
        if tuple(dataset.image_shape) != models.image_shape:
            raise ValueError(
                f"the data's images are {dataset.image_shape}, the run was trained on "
                f"{models.image_shape}"
            )
        images, labels = dataset.images, dataset.labels
        if split == "train" and n_train:
            images, labels = images[:n_train], labels[:n_train]
        typer.echo(f"features of {len(images)} {split} images", err=True)
        feats, codes = extract(images)
        pixels = images.flatten(1).float().numpy() / 255.0
        splits[split] = (feats, codes, labels.numpy(), pixels)
    train, test = splits["train"], splits["test"]
    report = probe_representation(
        (train[0], test[0]),
        (train[2], test[2]),
        (train[3], test[3]),
        codes_test=test[1],
        categorical=models.cfg.model.codes.categorical,
        progress=lambda message: typer.echo(message, err=True),
    )
    report |= {"features": features, "feature_dim": int(train[0].shape[1])}
    report |= {"run": str(run_dir), "step": models.step}
    (Path(run_dir) / "probe.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def encoder_extractor(run_dir: Path, models):
    """Features (and InfoGAN codes read from E(x)) from the run's inversion encoder."""
    import torch

    from knowgen.represent.encoder import encode_latents, encoder_features, load_or_train_encoder

    encoder = load_or_train_encoder(run_dir, models.generator, models.image_shape, models.step)
    generator = models.generator

    def extract(images):
        codes = None
        if hasattr(generator, "code_targets"):
            categories, continuous = generator.code_targets(encode_latents(encoder, images))
            codes = torch.cat([c[:, None].float() for c in categories] + [continuous], 1).numpy()
        return encoder_features(encoder, images), codes

    return extract
