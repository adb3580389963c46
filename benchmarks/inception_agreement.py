"""knowgen's Inception-v3 FID path against a maintained implementation, on the same images and the
same weights file: torch-fidelity's `FeatureExtractorInceptionV3` (what torchmetrics' FID runs).

torch-fidelity imports torchvision at package level (for its dataset helpers), and torchvision
wheels need a matching CUDA build of torch; on a CPU-only torch its operators fail to register.
This script therefore loads torch-fidelity's feature-extractor *module* without running its
package `__init__` (a bare package object with the right `__path__`), which needs neither. Give
it an unpacked torch-fidelity (`pip download torch-fidelity --no-deps`, unzip) with
`--torch-fidelity DIR` and the standard weights with `--weights` (any FID Inception state dict
works: with random weights, agreement is still agreement).

    python benchmarks/inception_agreement.py --torch-fidelity /tmp/tf/src --n 200
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import sys
import tempfile
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowgen.data import DataConfig, load_dataset  # noqa: E402
from knowgen.metrics.fid import compute_fid  # noqa: E402
from knowgen.metrics.inception import (  # noqa: E402
    FIDInceptionV3,
    inception_features,
    load_inception,
)


def torch_fidelity_extractor(source: Path, weights: Path):
    """torch-fidelity's FeatureExtractorInceptionV3 (2048 pool features), imported bare."""
    package = types.ModuleType("torch_fidelity")  # after knowgen (and torchmetrics) imported
    package.__path__ = [str(source / "torch_fidelity")]
    package.__spec__ = importlib.machinery.ModuleSpec("torch_fidelity", None, is_package=True)
    sys.modules["torch_fidelity"] = package
    module = importlib.import_module("torch_fidelity.feature_extractor_inceptionv3")
    return module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], str(weights)).eval()


@torch.no_grad()
def fidelity_features(extractor, images: torch.Tensor, batch: int = 50) -> torch.Tensor:
    rgb = images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images
    parts = [extractor(rgb[i : i + batch])[0].double() for i in range(0, len(rgb), batch)]
    return torch.cat(parts)


@torch.no_grad()
def calibrated_random_weights(images: torch.Tensor) -> dict:
    """Random FID Inception weights whose BatchNorm statistics are those of `images` (one pass
    in training mode): untouched random statistics make every image's features nearly the same
    (a per-dimension spread of ~1e-8), which would make any agreement trivial."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average: this one pass sets the statistics
    net.train()(images)
    return net.state_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-fidelity", type=Path, required=True, help="unpacked wheel")
    parser.add_argument("--weights", type=Path, help="default: random FID Inception weights")
    parser.add_argument("--n", type=int, default=200, help="images per set")
    args = parser.parse_args()
    weights = args.weights
    test = load_dataset(DataConfig(split="test")).images
    train = load_dataset(DataConfig(split="train")).images
    if weights is None:
        weights = Path(tempfile.mkdtemp()) / "random-inception.pth"
        torch.save(calibrated_random_weights(train[-64:]), weights)
    conventions = {c: load_inception(weights, c) for c in ("tf1", "pytorch-fid")}
    theirs = torch_fidelity_extractor(args.torch_fidelity, weights)
    sets = {"test": test[: args.n], "train": train[: args.n]}
    extractors = {f"knowgen ({c})": net for c, net in conventions.items()}
    feats = {}
    for name, images in sets.items():
        feats[("torch-fidelity", name)] = fidelity_features(theirs, images)
        for impl, net in extractors.items():
            feats[(impl, name)] = inception_features(net, images)
    for impl in extractors:
        for name in sets:
            a, b = feats[(impl, name)], feats[("torch-fidelity", name)]
            rel = float((a - b).norm() / b.norm())
            print(f"{impl} vs torch-fidelity, {name} features: relative difference {rel:.2e}")
    for impl in ["torch-fidelity", *extractors]:
        fid = compute_fid(feats[(impl, "test")], feats[(impl, "train")])
        spread = float(feats[(impl, "test")].std(0).mean())
        print(
            f"FID(test[:{args.n}], train[:{args.n}]) by {impl}: {fid:.6e} "
            f"(features' mean per-dimension std {spread:.3e})"
        )


if __name__ == "__main__":
    main()
