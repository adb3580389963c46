"""InfoGAN's latent codes (Chen et al. 2016): noise plus categorical and continuous codes that a
Q head must recover from the generated image, so that each code comes to mean something.

The codes are carried *inside* the Gaussian latent z: the last slots of z are read as codes (a
categorical code with K values is the argmax of K slots, which is uniform over the K values; a
continuous code is its slot, a standard normal). So every caller that draws z ~ N(0, I) of size
`generator.z_dim` (training, sampling, export, evaluation) draws valid codes, reproducibly, and
`InfoGenerator.latent` writes chosen codes back into z for traversals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from knowgen.knowledge import Conditions

# What Q must recover for a batch: category indices per categorical code, continuous values (B, n).
CodeTargets = tuple[list[torch.Tensor], torch.Tensor]

# A slot value that wins the argmax for the chosen category whatever the other slots hold.
_CHOSEN = 1e4


@dataclass(frozen=True)
class LatentCodes:
    """The codes' layout: sizes of the categorical codes, then how many continuous ones."""

    categorical: tuple[int, ...] = ()
    continuous: int = 0

    def __post_init__(self) -> None:
        if any(k < 2 for k in self.categorical):
            raise ValueError(f"a categorical code needs >= 2 values, got {list(self.categorical)}")
        if self.continuous < 0:
            raise ValueError("the number of continuous codes must be >= 0")

    def __bool__(self) -> bool:
        return bool(self.categorical) or self.continuous > 0

    @property
    def slots(self) -> int:
        """How many entries of z the codes take (and how many inputs they give G)."""
        return sum(self.categorical) + self.continuous

    @property
    def q_outputs(self) -> int:
        """Q's outputs: logits per categorical value, mean and log-variance per continuous code."""
        return sum(self.categorical) + 2 * self.continuous

    def names(self) -> list[str]:
        """c1, c2, ...: categorical codes first, then continuous ones."""
        return [f"c{i + 1}" for i in range(len(self.categorical) + self.continuous)]

    def describe(self) -> list[str]:
        kinds = [f"categorical ({k} values)" for k in self.categorical]
        kinds += ["continuous (standard normal)"] * self.continuous
        return [f"{name}: {kind}" for name, kind in zip(self.names(), kinds, strict=True)]

    def read(self, slots: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Code slots (B, slots) -> (category indices per categorical code, continuous (B, n))."""
        categories, start = [], 0
        for k in self.categorical:
            categories.append(slots[:, start : start + k].argmax(1))
            start += k
        return categories, slots[:, start:]

    def as_inputs(self, slots: torch.Tensor) -> torch.Tensor:
        """What G sees for the codes: one-hot vectors, then the continuous values."""
        categories, continuous = self.read(slots)
        pairs = zip(categories, self.categorical, strict=True)
        one_hots = [F.one_hot(c, k).to(slots.dtype) for c, k in pairs]
        return torch.cat([*one_hots, continuous], dim=1)

    def write(
        self, slots: torch.Tensor, categories: list[torch.Tensor | None], continuous: torch.Tensor
    ) -> torch.Tensor:
        """Slots that read back as the given codes; None keeps a categorical code as drawn."""
        out, start = slots.clone(), 0
        for k, chosen in zip(self.categorical, categories, strict=True):
            if chosen is not None:
                out[:, start : start + k] = F.one_hot(chosen.long(), k).to(slots.dtype) * _CHOSEN
            start += k
        out[:, start:] = continuous
        return out


class InfoGenerator(nn.Module):
    """A generator whose z ends with InfoGAN code slots; `base` sees [noise, one-hots, continuous].

    `z_dim` is the full latent size, so callers draw z ~ N(0, I) as for any generator."""

    def __init__(self, base: nn.Module, codes: LatentCodes):
        super().__init__()
        self.base = base
        self.codes = codes
        self.z_dim = int(base.z_dim)
        self.noise_dim = self.z_dim - codes.slots
        self.num_classes = base.num_classes

    @property
    def encoder(self) -> nn.Module | None:
        """The base generator's knowledge encoder: codes add no knowledge of their own."""
        return self.base.encoder

    def forward(self, z: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        noise, slots = z[:, : self.noise_dim], z[:, self.noise_dim :]
        return self.base(torch.cat([noise, self.codes.as_inputs(slots)], dim=1), cond)

    def code_targets(self, z: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The codes a batch was made with: what Q must recover."""
        return self.codes.read(z[:, self.noise_dim :])

    def latent(
        self, z: torch.Tensor, categories: list[torch.Tensor | None], continuous: torch.Tensor
    ) -> torch.Tensor:
        """z with its code slots replaced so that it decodes the given codes."""
        slots = self.codes.write(z[:, self.noise_dim :], categories, continuous)
        return torch.cat([z[:, : self.noise_dim], slots], dim=1)


class QHead(nn.Module):
    """Predicts the codes from D's trunk features (sharing the trunk is InfoGAN's cheap choice)."""

    def __init__(self, feature_dim: int, codes: LatentCodes, hidden: int = 128):
        super().__init__()
        self.codes = codes
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden),
            nn.LeakyReLU(0.2, True),
            nn.Linear(hidden, codes.q_outputs),
        )

    def forward(
        self, features: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Features (B, F) -> (logits per categorical code, continuous means, log-variances)."""
        out = self.net(features)
        logits, start = [], 0
        for k in self.codes.categorical:
            logits.append(out[:, start : start + k])
            start += k
        n = self.codes.continuous
        return logits, out[:, start : start + n], out[:, start + n :].clamp(-5.0, 5.0)


def information_loss(
    prediction: tuple[list[torch.Tensor], torch.Tensor, torch.Tensor],
    targets: tuple[list[torch.Tensor], torch.Tensor],
    continuous_weight: float,
) -> torch.Tensor:
    """InfoGAN's variational bound on -I(c; G(z, c)), up to constants: cross-entropy for each
    categorical code plus `continuous_weight` x the Gaussian negative log-likelihood of each
    continuous code under Q's predicted mean and variance."""
    logits, mean, log_var = prediction
    categories, continuous = targets
    loss = mean.new_zeros(())
    for lg, target in zip(logits, categories, strict=True):
        loss = loss + F.cross_entropy(lg, target)
    if continuous.shape[1]:
        nll = 0.5 * (log_var + (continuous - mean) ** 2 / log_var.exp())
        loss = loss + continuous_weight * nll.sum(1).mean()
    return loss


@torch.no_grad()
def traverse_code(
    generator: InfoGenerator, code: str, samples: int, steps: int, span: float, seed: int = 0,
    cond: Conditions | None = None,
) -> tuple[torch.Tensor, list[str]]:  # fmt: skip
    """Images that vary one code and hold everything else: row r sets `code` to its r-th value
    (each category of a categorical code; `steps` values from -span to span of a continuous
    one), column j keeps the j-th draw of noise and of the other codes, under `cond` (default:
    column j of a class-conditional generator shows class j). Returns float images
    (rows * samples, C, H, W) in [-1, 1] and one label per row."""
    codes = generator.codes
    names = codes.names()
    if code not in names:
        raise ValueError(f"unknown code {code!r}; this generator has {', '.join(codes.describe())}")
    index = names.index(code)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, generator.z_dim, generator=rng)
    _, continuous = generator.code_targets(z)
    if cond is None and generator.num_classes:  # a conditional InfoGAN: column j shows class j
        cond = {"class": torch.arange(samples) % generator.num_classes}
    num_categorical = len(codes.categorical)
    if index < num_categorical:
        values = list(range(codes.categorical[index]))
    else:
        values = torch.linspace(-span, span, steps).tolist()
    rows, labels = [], []
    for value in values:
        categories: list[torch.Tensor | None] = [None] * num_categorical
        varied = continuous.clone()
        if index < num_categorical:
            categories[index] = torch.full((samples,), int(value))
            labels.append(f"{code}={int(value)}")
        else:
            varied[:, index - num_categorical] = value
            labels.append(f"{code}={value:+.1f}")
        rows.append(generator(generator.latent(z, categories, varied), cond))
    return torch.cat(rows), labels


def clustering_loss(logits: list[torch.Tensor]) -> torch.Tensor:
    """Regularised information maximisation (Krause et al. 2010; IMSAT, Hu et al. 2017) for each
    categorical code's predictions on *real* images: each image's assignment should be confident
    (low mean entropy) and the assignments balanced over the values (high entropy of the mean).
    With InfoGAN's term tying Q's values to what G draws with each code, this pushes a code to
    be the main factor of variation of real images rather than a detail G hides it in."""
    loss = logits[0].new_zeros(()) if logits else torch.zeros(())
    for lg in logits:
        p = lg.softmax(1)
        mean_entropy = -(p * lg.log_softmax(1)).sum(1).mean()
        marginal = p.mean(0)
        loss = loss + mean_entropy + (marginal * marginal.clamp_min(1e-8).log()).sum()
    return loss


def consistency_loss(logits: list[torch.Tensor], shifted: list[torch.Tensor]) -> torch.Tensor:
    """IMSAT's self-augmented training (Hu et al. 2017) for each categorical code: Q's prediction
    on a real image shifted by a few pixels should match its prediction on the image itself
    (KL, the unshifted prediction held fixed as the target). Information maximisation alone is
    content with any confident, balanced partition, including one by position or stroke width;
    a partition that must survive a shift is one by what the garment is."""
    loss = logits[0].new_zeros(()) if logits else torch.zeros(())
    for lg, moved in zip(logits, shifted, strict=True):
        target = lg.detach().softmax(1)
        loss = loss + torch.nn.functional.kl_div(
            moved.log_softmax(1), target, reduction="batchmean"
        )
    return loss
