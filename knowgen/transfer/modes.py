"""How a teacher's knowledge trains a generator (`transfer.modes`, any compatible set):

- `projected`: D = the frozen teacher -> fixed random 1x1 channel mixing per scale -> small
  trainable heads (Sauer et al. 2021, "Projected GANs Converge Faster"); DiffAugment, when on, is
  applied to D's input, i.e. before the teacher.
- `vision-aided`: the normal D stays, and the same teacher-based network joins it as a second
  discriminator whose loss is added to D's and G's (Kumari et al. 2022, "Ensembling Off-the-shelf
  Models for GAN Training"): with few images D memorises them, while frozen features learned on
  other data cannot, so the second judge keeps judging what images look like.
- `init`: D's trunk starts from the teacher's weights and is fine-tuned (needs `dcgan` D layers,
  which the teacher shares).
- `feature-matching`: an extra G loss pulls the mean and standard deviation of the teacher's
  features on fake batches towards those on real batches (Salimans et al. 2016, with a teacher).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from knowgen.knowledge import ClassEncoder, Conditions
from knowgen.models.dcgan import DCGANDiscriminator
from knowgen.models.layers import Judgement
from knowgen.transfer.config import TransferConfig
from knowgen.transfer.teachers import Teacher_, TeacherNet


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


def teacher_discriminator(
    teacher: Teacher_, cfg: TransferConfig, num_classes: int
) -> ProjectedDiscriminator:
    """The teacher-based D of `cfg`: D itself (`projected`) or the second D (`vision-aided`)."""
    return ProjectedDiscriminator(
        teacher,
        cfg.projection_channels,
        num_classes,
        cross_scale=cfg.cross_scale,
        logit_head=cfg.logit_head,
    )


def init_from_teacher(discriminator: nn.Module, teacher: Teacher_) -> None:
    """Copy the teacher's trunk into D's (same layer layout: `dcgan_trunk`)."""
    if not isinstance(teacher, TeacherNet):
        raise ValueError("transfer mode 'init' needs transfer.teacher_arch='teachernet-v1'")
    if not isinstance(discriminator, DCGANDiscriminator):
        raise ValueError(
            "transfer mode 'init' needs model.name='dcgan' (D shares the teacher's trunk)"
        )
    state = teacher.trunk.state_dict()
    target = nn.Sequential(*list(discriminator.net)[: len(teacher.trunk)])
    try:
        target.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            "transfer mode 'init' needs D's trunk to match the teacher's: model.name='dcgan', "
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
