"""One discriminator update and one generator update; each returns its named loss terms.

The loop draws one generated batch per iteration: D trains on it detached, then G trains through
the same batch (as the DCGAN reference code does), which saves a generator forward pass.
"""

from __future__ import annotations

import torch

from knowgen.losses import D_LOSSES, G_LOSSES, LossConfig, gradient_penalty
from knowgen.train.state import TrainState


def generate_fake(state: TrainState, batch_size: int, with_grad: bool) -> torch.Tensor:
    """A generated batch (B, C, H, W); keeps G's graph only when a G step will use it."""
    z = torch.randn(batch_size, state.z_dim, device=state.device)
    with torch.set_grad_enabled(with_grad):
        return state.generator(z)


def d_step(
    state: TrainState, real: torch.Tensor, fake: torch.Tensor, cfg: LossConfig
) -> dict[str, torch.Tensor]:
    """Update D on real (B, C, H, W) and generated images, both in [-1, 1]."""
    discriminator = state.discriminator
    fake = fake.detach()
    real_logits = discriminator(real)
    fake_logits = discriminator(fake)
    terms = {"d_adv": D_LOSSES[cfg.kind](real_logits, fake_logits, cfg.label_smoothing)}
    if cfg.kind == "wgan-gp":
        terms["d_gp"] = cfg.gp_weight * gradient_penalty(discriminator, real, fake)
    state.opt_d.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    state.opt_d.step()
    logs = {k: v.detach() for k, v in terms.items()}
    return logs | {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}


def g_step(state: TrainState, fake: torch.Tensor, cfg: LossConfig) -> dict[str, torch.Tensor]:
    """Update G through `fake` (made with grad) to fool D. D's weights are frozen for the pass,
    which skips computing their gradients."""
    discriminator = state.discriminator
    discriminator.requires_grad_(False)
    try:
        terms = {"g_adv": G_LOSSES[cfg.kind](discriminator(fake))}
        state.opt_g.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        state.opt_g.step()
    finally:
        discriminator.requires_grad_(True)
    return {k: v.detach() for k, v in terms.items()}
