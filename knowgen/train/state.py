"""Everything that changes while training, in one object that a checkpoint can hold."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch import nn

from knowgen.augment import AdaptiveStrength
from knowgen.knowledge import placeholder_conditions
from knowgen.knowledge.conditioning import NoConditions, TrainingConditions, condition_classes
from knowgen.knowledge.config import KnowledgeConfig
from knowgen.models import ModelConfig, build_discriminator, build_generator
from knowgen.models.codes import LatentCodes, QHead
from knowgen.train.config import TrainConfig
from knowgen.train.distributed import World
from knowgen.train.ema import EMA
from knowgen.transfer import (
    ProjectedDiscriminator,
    Teacher,
    TransferConfig,
    init_from_teacher,
    teacher_discriminator,
)
from knowgen.transfer.source import freeze_blocks


@dataclass
class TrainState:
    """Models, optimizers, EMA and counters of a run."""

    generator: nn.Module
    discriminator: nn.Module
    ema: EMA
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    device: torch.device
    step: int = 0
    elapsed_s: float = 0.0  # training wall time so far, over all resumes
    teacher: nn.Module | None = None  # frozen teacher for transfer mode "feature-matching"
    # transfer mode "vision-aided": the teacher-based second D (a submodule of `discriminator`,
    # so D's optimizer, checkpoint and gradient averaging carry it)
    aided: ProjectedDiscriminator | None = None
    conditioning: TrainingConditions = field(default_factory=NoConditions)  # what is drawn
    codes: LatentCodes = field(default_factory=LatentCodes)  # InfoGAN codes (empty: none)
    world: World = field(default_factory=World)  # this process among data-parallel ranks
    precision: str = "fp32"  # autocast dtype of forward passes
    scaler_d: torch.amp.GradScaler | None = None  # fp16 only: loss scaling per optimizer
    scaler_g: torch.amp.GradScaler | None = None
    ada: AdaptiveStrength | None = None  # train.ada_target: how often DiffAugment applies

    @property
    def augment_p(self) -> float:
        """The probability with which each DiffAugment transform acts (1 without ADA)."""
        return 1.0 if self.ada is None else self.ada.p

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward passes (`train.precision`); fp32 is a no-op context."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @property
    def z_dim(self) -> int:
        return int(self.generator.z_dim)


def resolve_device(name: str, world: World | None = None) -> torch.device:
    """`auto` -> cuda when present else cpu; a requested but absent cuda is a clear error. Under
    torchrun, "cuda" means this process' GPU, cuda:LOCAL_RANK. TF32 matmuls are allowed on CUDA
    (Ampere and newer use them; fp32 storage and optimizer state stay exact)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device={name!r} but no CUDA GPU is available; use 'cpu'")
    if device.type == "cuda":
        if world is not None and world.distributed and device.index is None:
            device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def init_state(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    image_shape: tuple[int, int, int],
    device: torch.device,
    num_classes: int = 0,
    transfer: TransferConfig | None = None,
    teacher: Teacher | None = None,
    world: World | None = None,
    conditioning: TrainingConditions | None = None,
    knowledge: KnowledgeConfig | None = None,
) -> TrainState:
    """Fresh models and optimizers, seeded by `train_cfg.seed`; `num_classes` is the dataset's
    (used when the model is conditional); `teacher` serves `transfer.modes`; `conditioning` draws
    the knowledge of each batch as `knowledge` (default: none) asks."""
    torch.manual_seed(train_cfg.seed)
    knowledge = knowledge or KnowledgeConfig()
    k = condition_classes(knowledge, model_cfg.aux_classifier, num_classes)
    generator = build_generator(model_cfg, image_shape, num_classes, knowledge).to(device)
    transfer = transfer or TransferConfig()
    if transfer.needs_teacher and teacher is None:
        raise ValueError(f"transfer modes {list(transfer.modes)} need a teacher")
    if transfer.uses("projected"):
        discriminator = teacher_discriminator(teacher.net, transfer, k)
    else:
        discriminator = build_discriminator(model_cfg, image_shape, num_classes, knowledge)
        if transfer.uses("init"):
            init_from_teacher(discriminator, teacher.net)
    if model_cfg.codes:
        discriminator.q_head = QHead(judged_features(discriminator, image_shape), model_cfg.codes)
    aided = None
    if transfer.uses("vision-aided"):
        aided = teacher_discriminator(teacher.net, transfer, k)
        discriminator.add_module("aided", aided)
    if transfer.freeze_d:
        freeze_blocks(discriminator, transfer.freeze_d)
    discriminator = discriminator.to(device)
    if train_cfg.sync_batchnorm:
        if device.type != "cuda":
            raise ValueError("train.sync_batchnorm needs CUDA GPUs (PyTorch syncs BN on GPU only)")
        generator = nn.SyncBatchNorm.convert_sync_batchnorm(generator)
        discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
    if train_cfg.channels_last:
        generator = generator.to(memory_format=torch.channels_last)
        discriminator = discriminator.to(memory_format=torch.channels_last)
    trainable_d = [p for p in discriminator.parameters() if p.requires_grad]
    fp16 = train_cfg.precision == "fp16"
    state = TrainState(
        generator=generator,
        discriminator=discriminator,
        ema=EMA(generator, train_cfg.ema_halflife_steps),
        opt_g=torch.optim.Adam(generator.parameters(), lr=train_cfg.lr_g, betas=train_cfg.betas),
        opt_d=torch.optim.Adam(trainable_d, lr=train_cfg.lr_d, betas=train_cfg.betas),
        device=device,
        conditioning=conditioning or NoConditions(),
        codes=model_cfg.codes,
        teacher=teacher.net.to(device) if transfer.uses("feature-matching") else None,
        aided=aided,
        world=world or World(),
        precision=train_cfg.precision,
        scaler_d=torch.amp.GradScaler(device.type, enabled=fp16),
        scaler_g=torch.amp.GradScaler(device.type, enabled=fp16),
        ada=AdaptiveStrength(train_cfg.ada_target, train_cfg.ada_images)
        if train_cfg.ada_target
        else None,
    )
    if train_cfg.compile:  # after the EMA copy, which must stay a plain module
        generator.compile()
        discriminator.judge = torch.compile(discriminator.judge)
    return state


def apply_optimizer_settings(state: TrainState, train_cfg: TrainConfig) -> None:
    """The config's learning rates and betas in both optimizers (after a resume restored the
    checkpoint's), so that `config.toml` never says one thing while training does another."""
    for optimizer, lr in ((state.opt_g, train_cfg.lr_g), (state.opt_d, train_cfg.lr_d)):
        for group in optimizer.param_groups:
            group["lr"] = lr
            group["betas"] = tuple(train_cfg.betas)


def judged_features(discriminator: nn.Module, image_shape: tuple[int, int, int]) -> int:
    """The size of the features `discriminator.judge` returns, from one pass in eval mode (which
    leaves BatchNorm statistics and spectral norm's power iterations alone)."""
    was_training = discriminator.training
    discriminator.eval()
    with torch.no_grad():
        cond = placeholder_conditions(discriminator, 2)
        size = discriminator.judge(torch.zeros(2, *image_shape), cond).features.shape[1]
    discriminator.train(was_training)
    return int(size)
