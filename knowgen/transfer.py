"""Knowledge transfer: what a classifier learned, reused to train generators faster.

The *teacher* is a classifier of the training set, trained by knowgen once and cached (or the
user's own, loaded safely). Its multi-scale features are the transferred knowledge, used by one of:

- `projected`: D = the frozen teacher -> fixed random 1x1 channel mixing per scale -> small
  trainable heads (Sauer et al. 2021, "Projected GANs Converge Faster"); DiffAugment, when on, is
  applied to D's input, i.e. before the teacher.
- `init`: D's trunk starts from the teacher's weights and is fine-tuned (needs `dcgan` D layers,
  which the teacher shares).
- `feature-matching`: an extra G loss pulls the mean and standard deviation of the teacher's
  features on fake batches towards those on real batches (Salimans et al. 2016, with a teacher).

The teacher never judges: FID comes from the *evaluator*, a different architecture trained with a
different seed (tests assert they share no weights).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from knowgen.data import DataConfig, Dataset, load_dataset
from knowgen.knowledge import ClassEncoder, Conditions
from knowgen.metrics.evaluator import EvaluatorRecipe, load_or_train_classifier
from knowgen.models.dcgan import (
    DCGANDiscriminator,
    dcgan_geometry,
    dcgan_trunk,
    stage_channels,
)
from knowgen.models.layers import Judgement, init_dcgan_weights

log = logging.getLogger(__name__)

TransferMode = Literal["none", "projected", "init", "feature-matching"]


@dataclass(frozen=True)
class TransferConfig:
    """Which knowledge transfer, from which teacher."""

    mode: TransferMode = "none"
    teacher: str | None = None  # your classifier: a .safetensors state dict of `teacher_arch`
    teacher_arch: str = "teachernet-v1"
    teacher_width: int = 64  # teachernet: channels of its first stage (doubles per stage)
    projection_channels: int = 64  # projected: channels after the fixed 1x1 mixing, per scale
    cross_scale: bool = False  # projected: add each coarser mixed scale into the finer one
    logit_head: bool = False  # projected: one more head on the teacher's class logits
    fm_weight: float = 10.0  # feature-matching: weight of the teacher statistics loss

    def __post_init__(self) -> None:
        if self.teacher_arch not in TEACHERS:
            raise ValueError(
                f"unknown transfer.teacher_arch {self.teacher_arch!r}; choose from "
                f"{sorted(TEACHERS)}"
            )
        if self.teacher is not None and not Path(self.teacher).is_file():
            raise ValueError(f"transfer.teacher {self.teacher!r} does not exist")
        for key in ("teacher_width", "projection_channels"):
            if getattr(self, key) < 1:
                raise ValueError(f"transfer.{key} must be >= 1")
        if self.fm_weight < 0:
            raise ValueError("transfer.fm_weight must be >= 0")


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
    """The frozen teacher for this dataset: the user's file, or knowgen's (trained once, cached
    under `$KNOWGEN_CACHE/teachers/`). Leaves the caller's RNG untouched."""
    train_set = dataset if dataset is not None else load_dataset(replace(data_cfg, split="train"))
    if train_set.labels is None:
        raise ValueError("knowledge transfer needs a labelled dataset to train its teacher")
    num_classes = len(train_set.class_names)
    net = TEACHERS[cfg.teacher_arch](train_set.image_shape, num_classes, cfg.teacher_width)
    if cfg.teacher is not None:
        load_user_teacher(net, Path(cfg.teacher))
        key, record = f"user-{Path(cfg.teacher).name}", {}
    else:
        recipe = (
            TEACHER_RECIPE
            if data_cfg.name != "digits"
            else replace(TEACHER_RECIPE, use_hflip=False, epochs=10, batch_size=64)
        )
        shape = "x".join(str(s) for s in train_set.image_shape)
        key = f"{data_cfg.name}-{shape}-{cfg.teacher_arch}-w{cfg.teacher_width}-{recipe.key()}"
        with torch.random.fork_rng():
            record = load_or_train_classifier(
                net,
                key,
                "teachers",
                train_set,
                lambda: load_dataset(replace(data_cfg, split="test")),
                recipe,
                {"dataset": data_cfg.name, "role": "teacher (never used to judge)"},
            )
    net.eval().requires_grad_(False)
    return Teacher(net, key, record.get("test_accuracy"), record.get("train_seconds"))


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
    import hashlib

    layout = [(name, list(p.shape)) for name, p in net.state_dict().items()]
    return hashlib.sha256(json.dumps(layout).encode()).hexdigest()[:12]


class ProjectedDiscriminator(nn.Module):
    """D built on a frozen teacher: per scale, fixed random 1x1 channel mixing (the projection)
    and a small trainable head; the logit is the sum of the heads' logits. Conditional: each head
    adds a projection term <embed(y), h>.

    `cross_scale` adds each coarser mixed scale, upsampled, into the next finer one (Projected
    GANs' cross-scale mixing), so fine heads also see what the deep features say. `logit_head`
    adds a head on the teacher's class logits: how sure the teacher is of *some* class is
    knowledge from the labels that even an unconditional D can use."""

    def __init__(
        self,
        teacher: Teacher_,
        projection_channels: int = 64,
        num_classes: int = 0,
        cross_scale: bool = False,
        logit_head: bool = False,
    ):
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        self.num_classes = num_classes
        self.encoder = None  # one class encoder per scale instead (`encoders`)
        self.q_head = None
        self.cross_scale = cross_scale
        self.mix = nn.ModuleList()
        self.heads = nn.ModuleList()
        self.encoders = nn.ModuleList()
        feature_dims = []
        for width, side in zip(teacher.widths, teacher.sides, strict=True):
            mix = nn.Conv2d(width, projection_channels, 1, bias=False)
            nn.init.kaiming_uniform_(mix.weight)  # random, then frozen
            self.mix.append(mix.requires_grad_(False))
            head_side = max(side // 2, 1)
            self.heads.append(
                nn.Sequential(
                    nn.Conv2d(projection_channels, projection_channels, 4, 2, 1),
                    nn.LeakyReLU(0.2, True),
                    nn.Flatten(),
                )
            )
            feature_dim = projection_channels * head_side * head_side
            feature_dims.append(feature_dim)
            self.encoders.append(ClassEncoder(num_classes, feature_dim) if num_classes else None)
        self.linears = nn.ModuleList(nn.Linear(dim, 1) for dim in feature_dims)
        self.logit_head = None
        if logit_head:
            k = teacher.classifier.out_features
            self.logit_head = nn.Sequential(
                nn.Linear(k, projection_channels),
                nn.LeakyReLU(0.2, True),
                nn.Linear(projection_channels, 1),
            )

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.teacher.eval()  # its BatchNorm statistics stay the teacher's
        return self

    def project(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The teacher's scales, channel-mixed (and cross-scale mixed), finest first."""
        mixed = [mix(feats) for feats, mix in zip(features, self.mix, strict=True)]
        if self.cross_scale:
            for i in range(len(mixed) - 2, -1, -1):
                coarser = F.interpolate(mixed[i + 1], size=mixed[i].shape[-2:], mode="bilinear")
                mixed[i] = mixed[i] + coarser
        return mixed

    def judge(self, x: torch.Tensor, cond: Conditions | None = None) -> Judgement:
        """Summed logits; the features are all heads' features side by side."""
        logits = torch.zeros(len(x), device=x.device)
        features = self.teacher.multiscale(x)
        hs = []
        parts = zip(self.project(features), self.heads, self.linears, self.encoders, strict=True)
        for m, head, linear, encoder in parts:
            h = head(m)
            hs.append(h)
            logits = logits + linear(h).flatten()
            if encoder is not None:
                logits = logits + (encoder(cond).pooled * h).sum(1)
        if self.logit_head is not None:
            class_logits = self.teacher.classifier(features[-1].flatten(1))
            logits = logits + self.logit_head(class_logits).flatten()
        return Judgement(logits, torch.cat(hs, dim=1))

    def forward(self, x: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        return self.judge(x, cond).logits


def init_from_teacher(discriminator: nn.Module, teacher: Teacher_) -> None:
    """Copy the teacher's trunk into D's (same layer layout: `dcgan_trunk`)."""
    if not isinstance(teacher, TeacherNet):
        raise ValueError("transfer.mode='init' needs transfer.teacher_arch='teachernet-v1'")
    if not isinstance(discriminator, DCGANDiscriminator):
        raise ValueError(
            "transfer.mode='init' needs model.name='dcgan' (D shares the teacher's trunk)"
        )
    state = teacher.trunk.state_dict()
    target = nn.Sequential(*list(discriminator.net)[: len(teacher.trunk)])
    try:
        target.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            "transfer.mode='init' needs D's trunk to match the teacher's: model.name='dcgan', "
            f"model.d_batchnorm=true and model.width = transfer.teacher_width ({err})"
        ) from None


def feature_matching_loss(teacher: Teacher_, real: torch.Tensor, fake: torch.Tensor):
    """Sum over scales of the squared distance between per-channel mean and std of the teacher's
    features on real and fake images (real statistics are constants)."""
    with torch.no_grad():
        real_feats = teacher.multiscale(real)
    loss = fake.new_zeros(())
    for r, f in zip(real_feats, teacher.multiscale(fake), strict=True):
        loss = loss + F.mse_loss(f.mean(dim=(0, 2, 3)), r.mean(dim=(0, 2, 3)))
        loss = loss + F.mse_loss(f.std(dim=(0, 2, 3)), r.std(dim=(0, 2, 3)))
    return loss
