"""No behaviour change by accident: every shipped preset, trained 20 steps on CPU with seed 1 on a
tiny stand-in dataset, must export the same generator weights as when the fixture was recorded.

The fixture holds, per preset, the SHA-256 of the exported (EMA) generator weights and a
fingerprint of each tensor (its sum and its dot product with a fixed random vector). The hash is
exact on the machine kind that recorded it; another CPU's kernels (AVX2 vs AVX-512 convolutions)
round differently, so there the fingerprint must agree to 1e-3 relative: rounding noise stays far
below that after 20 steps, while any change in what is drawn, built or updated moves the weights
by whole percents. Add new presets (and
rewrite one whose entry was deleted, in its own commit, saying why) with
`python -m tests.test_preset_weights --write`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from knowgen.config import list_presets, resolve_config
from knowgen.data import DataConfig, load_dataset
from knowgen.data.color import tint
from knowgen.data.datasets import FASHION_MNIST_CLASSES, Dataset, resize_uint8
from knowgen.data.shapes import SHAPES

FIXTURE = Path(__file__).parent / "fixtures" / "preset_weights.json"
STEPS = 20
TINY = [
    "train.seed=1",
    f"train.steps={STEPS}",
    "train.batch_size=16",
    "train.log_every=10",
    f"train.sample_every={STEPS}",
    f"train.checkpoint_every={STEPS}",
    "train.num_samples=4",
    "train.tensorboard=false",
    "model.width=8",
    'train.precision="fp32"',  # not "auto": the fixture must not depend on the machine's bf16
]


def tiny_dataset(data_name: str) -> Dataset:
    """256 digits standing in for the preset's data: resized to its side, named with its
    classes, tinted and given its known factors where the preset reads them."""
    digits = load_dataset(DataConfig(name="digits"))
    side = 32 if data_name == "shapes" else 28
    grey = resize_uint8(digits.images[:256], side)
    factors = torch.Generator().manual_seed(5)
    hue = torch.rand(len(grey), generator=factors)
    if data_name == "shapes":
        labels = digits.labels[:256] % len(SHAPES)
        attributes = {"hue": hue}
        for name in ("size", "rotation", "x", "y"):
            attributes[name] = torch.rand(len(grey), generator=factors)
        return Dataset(tint(grey, hue, torch.full_like(hue, 0.8)), labels, list(SHAPES), "shapes",
                       attributes=attributes)  # fmt: skip
    labels = digits.labels[:256]
    names = list(FASHION_MNIST_CLASSES)
    if data_name == "fashion-mnist-color":
        colored = tint(grey, hue, torch.full_like(hue, 0.8))
        return Dataset(colored, labels, names, data_name, attributes={"hue": hue})
    return Dataset(grey, labels, names, "fashion-mnist")


def preset_weights(preset: str, run_dir: Path) -> dict[str, torch.Tensor]:
    """The exported generator weights of `preset` after 20 steps on its tiny dataset."""
    from knowgen.sampling import load

    cfg = resolve_config(preset, TINY)
    dataset = tiny_dataset(cfg.data.name)
    torch.set_num_threads(2)
    train(cfg, run_dir, dataset=dataset)
    return load(run_dir).state_dict()


def fingerprint(weights: dict[str, torch.Tensor]) -> dict:
    """SHA-256 of every tensor's bytes in name order, and per tensor (sum, random projection)."""
    digest = hashlib.sha256()
    stats = {}
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(name.encode() + tensor.numpy().tobytes())
        values = tensor.double().flatten()
        direction = torch.randn(len(values), generator=torch.Generator().manual_seed(0))
        stats[name] = [float(values.sum()), float(values @ direction.double())]
    return {"sha256": digest.hexdigest(), "tensors": stats}


def train(cfg, run_dir, dataset):
    from knowgen.train.loop import train as run

    return run(cfg, run_dir, dataset=dataset)


@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_preset_weights_unchanged(preset, tmp_path):
    recorded = json.loads(FIXTURE.read_text())[preset]
    now = fingerprint(preset_weights(preset, tmp_path / "run"))
    if now["sha256"] == recorded["sha256"]:
        return
    print(f"{preset}: hash differs (another CPU's kernels?); comparing fingerprints")
    assert sorted(now["tensors"]) == sorted(recorded["tensors"])
    for name, values in recorded["tensors"].items():
        scale = max(abs(v) for v in values) + 1.0
        for got, want in zip(now["tensors"][name], values, strict=True):
            assert abs(got - want) <= 1e-3 * scale, (name, got, want)


if __name__ == "__main__" and "--write" in sys.argv:
    import os
    import tempfile

    os.environ.setdefault("KNOWGEN_CACHE", tempfile.mkdtemp())
    # presets already recorded keep their entries (rewrite one by deleting it from the file)
    table = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
    for name in sorted(set(list_presets()) - set(table)):
        with tempfile.TemporaryDirectory() as folder:
            table[name] = fingerprint(preset_weights(name, Path(folder) / "run"))
        print(name, table[name]["sha256"][:16], flush=True)
    FIXTURE.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
