"""Teachers: the classifiers whose knowledge is transferred, trained by knowgen once and cached
(on the generator's data, or on other classes: `transfer.teacher_classes`) or the user's own,
loaded without unpickling.

The teacher never judges: FID comes from the *evaluator*, a different architecture trained with a
different seed on every class (tests assert they share no weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from knowgen.data import DataConfig, Dataset, load_dataset
from knowgen.data.subsets import resolve_classes
from knowgen.metrics.evaluator import EvaluatorRecipe, load_or_train_classifier
from knowgen.models.dcgan import dcgan_geometry, dcgan_trunk, stage_channels
from knowgen.models.layers import init_dcgan_weights
from knowgen.transfer.config import TEACHER_ARCHS, TransferConfig

log = logging.getLogger(__name__)


class TeacherNet(nn.Module):
    """A classifier whose trunk is DCGAN's discriminator trunk (strided 4x4 convolutions, BN,
    LeakyReLU), flattened into a linear classifier (where a part sits matters, as for D). Each
    stage's output is one scale of transferred features (28 px: 64@14x14 and 128@7x7)."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 64):
        super().__init__()
        channels, side, _ = image_shape
        _, stages = dcgan_geometry(side)
        self.widths = stage_channels(stages, width, 512)[::-1]
        self.trunk = nn.Sequential(*dcgan_trunk(channels, self.widths, use_batchnorm=True))
        self.sides = [side // 2 ** (i + 1) for i in range(stages)]
        self.classifier = nn.Linear(self.widths[-1] * self.sides[-1] ** 2, num_classes)
        self.apply(init_dcgan_weights)

    def multiscale(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Images (B, C, H, W) in [-1, 1] -> each stage's activations, finest first."""
        outputs = []
        for layer in self.trunk:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.multiscale(x)[-1].flatten(1))


class DeepTeacherNet(nn.Module):
    """A deeper classifier: a 3x3 stem, then up to three stages of [Conv 4/2/1, BN, LReLU,
    Conv 3x3, BN, LReLU] (widths w, 2w, 4w; 28 px: 14, 7 and 3 px grids), flattened into a linear
    classifier. Two convolutions per stage give each scale more than a linear filter of the one
    below: the features a frozen teacher hands D are only as good as its depth."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 32):
        super().__init__()
        channels, side, _ = image_shape
        self.stem = nn.Sequential(*_conv_bn_lrelu(channels, width, 3, 1))
        self.stages = nn.ModuleList()
        self.widths, self.sides = [], []
        c_in = width
        while side // 2 >= 3 and len(self.stages) < 3 or not self.stages:
            c_out = width * 2 ** len(self.stages)
            self.stages.append(
                nn.Sequential(
                    *_conv_bn_lrelu(c_in, c_out, 4, 2), *_conv_bn_lrelu(c_out, c_out, 3, 1)
                )
            )
            side = (side + 2 - 4) // 2 + 1
            self.widths.append(c_out)
            self.sides.append(side)
            c_in = c_out
        self.classifier = nn.Linear(c_in * side * side, num_classes)
        self.apply(init_dcgan_weights)

    def multiscale(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Images (B, C, H, W) in [-1, 1] -> each stage's output, finest first."""
        outputs = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.multiscale(x)[-1].flatten(1))


def _conv_bn_lrelu(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    padding = 1
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.2, True),
    ]


TEACHERS = {"teachernet-v1": TeacherNet, "teachernet-deep": DeepTeacherNet}
assert tuple(TEACHERS) == TEACHER_ARCHS  # the config lists them without importing torch
Teacher_ = TeacherNet | DeepTeacherNet
# Not the evaluator's recipe: another architecture (above) and another seed.
TEACHER_RECIPE = EvaluatorRecipe(
    architecture="teachernet-v1", epochs=3, lr=2e-3, use_hflip=True, seed=7_345_001
)


@dataclass
class Teacher:
    """The frozen teacher network and what it cost: `train_seconds` is the one-time training
    time (None for a user's teacher)."""

    net: Teacher_
    key: str
    test_accuracy: float | None
    train_seconds: float | None


def load_or_train_teacher(
    data_cfg: DataConfig, cfg: TransferConfig, dataset: Dataset | None = None
) -> Teacher:
    """The frozen teacher: the user's file, or knowgen's, trained once and cached under
    `$KNOWGEN_CACHE/teachers/`, on `cfg.teacher_classes` of the dataset (all their training
    images) when set, else on the generator's own training data (`dataset`, default loaded).
    Leaves the caller's RNG untouched."""
    teacher_data = teacher_data_config(data_cfg, cfg)
    if teacher_data != data_cfg or dataset is None:
        dataset = load_dataset(replace(teacher_data, split="train"))
    if dataset.labels is None:
        raise ValueError("knowledge transfer needs a labelled dataset to train its teacher")
    num_classes = len(dataset.class_names)
    with torch.random.fork_rng():  # knowgen's teacher starts from its recipe's seed, whatever
        torch.manual_seed(TEACHER_RECIPE.seed)  # ran before (its cache key holds no history)
        net = TEACHERS[cfg.teacher_arch](dataset.image_shape, num_classes, cfg.teacher_width)
    if cfg.teacher is not None:
        load_user_teacher(net, Path(cfg.teacher))
        key, record = f"user-{Path(cfg.teacher).name}", {}
    else:
        recipe = (
            TEACHER_RECIPE
            if data_cfg.name != "digits"
            else replace(TEACHER_RECIPE, use_hflip=False, epochs=10, batch_size=64)
        )
        shape = "x".join(str(s) for s in dataset.image_shape)
        key = (
            f"{data_cfg.name}-{shape}-{cfg.teacher_arch}-w{cfg.teacher_width}-{recipe.key()}"
            f"{teacher_data.subset_tag}"
        )
        with torch.random.fork_rng():
            record = load_or_train_classifier(
                net,
                key,
                "teachers",
                dataset,
                lambda: load_dataset(replace(teacher_data, split="test", limit=None)),
                recipe,
                {
                    "dataset": data_cfg.name,
                    "classes": dataset.class_names,
                    "role": "teacher (never used to judge)",
                },
            )
    net.eval().requires_grad_(False)
    return Teacher(net, key, record.get("test_accuracy"), record.get("train_seconds"))


def teacher_data_config(data_cfg: DataConfig, cfg: TransferConfig) -> DataConfig:
    """What knowgen's teacher learns from: `teacher_classes` of the dataset, every image of them
    (they must not overlap the generator's `data.classes`), else the generator's own data."""
    if cfg.teacher_classes is None:
        return data_cfg
    if data_cfg.classes is not None:
        names = load_dataset(replace(data_cfg.whole, split="test")).class_names
        overlap = set(resolve_classes(names, cfg.teacher_classes)) & set(
            resolve_classes(names, data_cfg.classes)
        )
        if overlap:
            shared = ", ".join(names[i] for i in sorted(overlap))
            raise ValueError(
                f"transfer.teacher_classes and data.classes share {shared}: the teacher must "
                "have learned other classes than the generator's"
            )
    return replace(data_cfg, classes=cfg.teacher_classes, limit=None)


def load_user_teacher(net: nn.Module, path: Path) -> None:
    """Your classifier's weights into `net`: safetensors, or a `torch.save`d state dict read with
    `weights_only=True`. Mismatched names or shapes are an error that says which."""
    from safetensors.torch import load_file

    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"teacher {str(path)!r} is unreadable or not a state dict ({err})"
        ) from None
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"teacher {str(path)!r} does not fit {type(net).__name__}: {err}"
        ) from None


def teacher_fingerprint(net: nn.Module) -> str:
    """A hash of a network's architecture (parameter names and shapes), to tell networks apart."""
    layout = [(name, list(p.shape)) for name, p in net.state_dict().items()]
    return hashlib.sha256(json.dumps(layout).encode()).hexdigest()[:12]
