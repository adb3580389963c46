"""How long and how fast to train; defaults suit a short CPU run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from knowgen.augment import parse_policy


@dataclass(frozen=True)
class TrainConfig:
    """Training cadence. The run stops at the first of `steps`, `epochs`, `minutes` reached."""

    steps: int | None = 5_000  # D updates
    epochs: float | None = None
    minutes: float | None = None  # wall-clock budget, summed over resumes
    batch_size: int = 64
    n_critic: int = 1  # D updates per G update
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas (DCGAN paper)
    ema_halflife_steps: float = 500.0  # EMA of G; 0 disables averaging (EMA = G)
    seed: int = 0
    device: str = "auto"  # "auto" (a GPU when there is one, else the CPU), "cpu", "cuda", "cuda:1"
    num_threads: int | None = None  # torch CPU threads; None = PyTorch's default (the cores)
    flush_denormal: bool = True  # CPU: treat denormal floats as 0 (about 10% faster DCGAN steps)
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1_000
    keep_checkpoints: int = 3
    num_samples: int = 64  # images in each fixed-noise sample grid
    tensorboard: bool = True
    diffaugment: str = ""  # DiffAugment transforms for D's inputs, e.g. "color,translation,cutout"
    # ADA: > 0 applies the diffaugment transforms with a probability that keeps E[sign(D(real))]
    # near this target (ADA's 0.6); `ada_images` images move the probability from 0 to 1 (ADA's
    # 500k suits its runs of 25M images; a 10-minute CPU run sees about 1M)
    ada_target: float = 0.0
    ada_images: int = 100_000
    # autocast dtype (fp16: + GradScaler); "auto": bf16 where measured faster, else fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = False  # NHWC for G, D and batches (GPU tensor cores; modern on CPU)
    compile: bool = False  # torch.compile G's forward and D's judge (slow to start; GPU)
    sync_batchnorm: bool = False  # torchrun on GPUs: BatchNorm statistics over the global batch

    def __post_init__(self) -> None:
        if self.steps is None and self.epochs is None and self.minutes is None:
            raise ValueError("set at least one of train.steps, train.epochs, train.minutes")
        positive = {
            "steps": self.steps,
            "epochs": self.epochs,
            "minutes": self.minutes,
            "batch_size": self.batch_size,
            "n_critic": self.n_critic,
            "log_every": self.log_every,
            "sample_every": self.sample_every,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "num_samples": self.num_samples,
            "num_threads": self.num_threads,
        }
        for key, value in positive.items():
            if value is not None and value <= 0:
                raise ValueError(f"train.{key} must be > 0, got {value}")
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError("train.lr_g and train.lr_d must be > 0")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"train.betas must lie in [0, 1), got {self.betas}")
        parse_policy(self.diffaugment)
        if not 0.0 <= self.ada_target < 1.0:
            raise ValueError(
                f"train.ada_target must lie in [0, 1) (ADA uses 0.6), got {self.ada_target}"
            )
        if self.ada_images <= 0:
            raise ValueError(f"train.ada_images must be > 0, got {self.ada_images}")
        if self.ada_target and not parse_policy(self.diffaugment):
            raise ValueError(
                "train.ada_target adapts how often the train.diffaugment transforms apply; set "
                'train.diffaugment too, e.g. "color,translation,cutout"'
            )
        if not re.fullmatch(r"cpu|auto|mps|cuda(:\d+)?", self.device):
            raise ValueError(
                f"train.device must be cpu, cuda, cuda:N, mps or auto, got {self.device!r}"
            )
        if self.seed < 0:
            raise ValueError(f"train.seed must be >= 0, got {self.seed}")
        if self.ema_halflife_steps < 0:
            raise ValueError(
                f"train.ema_halflife_steps must be >= 0, got {self.ema_halflife_steps}"
            )
