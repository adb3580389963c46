"""One discriminator update and one generator update; each returns its named loss terms.

The loop draws one generated batch per iteration: D trains on it detached, then G trains through
the same batch (as the DCGAN reference code does), which saves a generator forward pass.
Conditional runs pass the conditions with each batch: the dataset's labels with real images,
uniformly drawn classes with generated ones. DiffAugment, when on, transforms every image D sees.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from knowgen.augment import diff_augment
from knowgen.knowledge import Conditions
from knowgen.losses import (
    ABSOLUTE_LOGITS,
    D_LOSSES,
    D_NEGATIVE_LOSSES,
    G_LOSSES,
    RELATIVISTIC,
    LossConfig,
    gradient_penalty,
    r1_penalty,
)
from knowgen.models.codes import CodeTargets, clustering_loss, consistency_loss, information_loss
from knowgen.models.layers import Judgement
from knowgen.train.state import TrainState
from knowgen.transfer import feature_matching_loss

# The vision-aided D is judged by the non-saturating loss whatever D's `loss.kind`: it has no
# gradient penalty of its own, which a Wasserstein critic would need.
AIDED_D_LOSS, AIDED_G_LOSS = D_LOSSES["non-saturating"], G_LOSSES["non-saturating"]


class FakeBatch(NamedTuple):
    """A generated batch, the conditions it was made for and, for InfoGAN, its latent codes."""

    images: torch.Tensor
    cond: Conditions | None
    codes: CodeTargets | None


def generate_fake(state: TrainState, batch_size: int, with_grad: bool) -> FakeBatch:
    """This rank's share of a generated global batch of `batch_size` (B, C, H, W), with what it
    was made from; keeps G's graph only when a G step will use it. Every rank draws the global
    batch's noise and conditions and keeps its slice (see `knowgen.train.distributed`)."""
    world = state.world
    z = world.shard(torch.randn(batch_size, state.z_dim, device=state.device))
    cond = world.shard_conditions(state.conditioning.for_fake(batch_size))
    codes = state.generator.code_targets(z) if state.codes else None
    with torch.set_grad_enabled(with_grad):
        return FakeBatch(state.generator(z, cond), cond, codes)


def backward_and_step(
    state: TrainState,
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    network: torch.nn.Module,
) -> None:
    """Gradients of `loss`, averaged over data-parallel ranks, then one optimizer step (through
    the fp16 loss scaler when there is one; it skips a step whose gradients overflowed)."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is None or not scaler.is_enabled():
        loss.backward()
        state.world.average_gradients(network.parameters())
        optimizer.step()
        return
    scaler.scale(loss).backward()
    state.world.average_gradients(network.parameters())
    scaler.step(optimizer)
    scaler.update()


def information_term(
    state: TrainState, judged: Judgement, codes: CodeTargets | None, cfg: LossConfig
) -> dict[str, torch.Tensor]:
    """InfoGAN's mutual-information term on a generated batch: Q (on D's trunk) recovers the
    codes. In D's update it trains Q and the trunk; in G's, it makes G's codes recoverable."""
    q_head = state.discriminator.q_head
    if q_head is None or codes is None or not cfg.info_weight:
        return {}
    loss = information_loss(q_head(judged.features), codes, cfg.info_continuous_weight)
    return {"info": cfg.info_weight * loss}


def real_clustering_terms(discriminator, real, real_cond, real_features, cfg: LossConfig):
    """Q's categorical codes as a clustering of real images: confident and balanced
    (`loss.info_real_weight`) and unchanged when the image shifts a few pixels
    (`loss.info_real_consistency`, one more pass of D's trunk on the shifted batch)."""
    terms = {}
    if not (cfg.info_real_weight or cfg.info_real_consistency):
        return terms
    q_head = discriminator.q_head
    logits = q_head(real_features)[0]
    if cfg.info_real_weight:
        terms["d_info_real"] = cfg.info_real_weight * clustering_loss(logits)
    if cfg.info_real_consistency:
        shifted_features = discriminator.judge(diff_augment(real, ("translation",)), real_cond)[1]
        terms["d_info_shift"] = cfg.info_real_consistency * consistency_loss(
            logits, q_head(shifted_features)[0]
        )
    return terms


def d_step(
    state: TrainState,
    real: torch.Tensor,
    real_cond: Conditions | None,
    fake: FakeBatch,
    cfg: LossConfig,
    policy: tuple[str, ...] = (),
    mismatched: Conditions | None = None,
    aided_weight: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Update D on real (B, C, H, W) and generated images, both in [-1, 1]. With `mismatched`
    conditions (another caption for each real image), D also learns to reject the real image
    under them: matching-aware, so D checks the image-text agreement, not only realism. A
    vision-aided second D (`state.aided`) learns from the same augmented batches."""
    discriminator = state.discriminator
    real_in = diff_augment(real, policy, state.augment_p)
    fake_in = diff_augment(fake.images.detach(), policy, state.augment_p)
    real_logits, real_features, real_aux = discriminator.judge(real_in, real_cond)
    judged_fake = discriminator.judge(fake_in, fake.cond)
    fake_logits = judged_fake.logits
    terms = {"d_adv": D_LOSSES[cfg.kind](real_logits, fake_logits, cfg.label_smoothing)}
    if mismatched is not None and cfg.mismatch_weight:
        wrong = discriminator.score(real_features, mismatched)
        terms["d_mismatch"] = cfg.mismatch_weight * D_NEGATIVE_LOSSES[cfg.kind](wrong)
    terms |= {f"d_{k}": v for k, v in information_term(state, judged_fake, fake.codes, cfg).items()}
    q_head = discriminator.q_head
    if q_head is not None and q_head.codes.categorical:
        terms |= real_clustering_terms(discriminator, real_in, real_cond, real_features, cfg)
    if cfg.kind == "wgan-gp":
        critic = lambda x: discriminator(x, real_cond)  # noqa: E731 - the interpolates keep real's
        terms["d_gp"] = cfg.gp_weight * gradient_penalty(critic, real_in, fake_in)
    if state.aided is not None and aided_weight:
        aided_real, aided_fake = state.aided(real_in, real_cond), state.aided(fake_in, fake.cond)
        terms["d_aided"] = aided_weight * AIDED_D_LOSS(aided_real, aided_fake, 0.0)
    if real_aux is not None:  # ACGAN: D learns the classes of real images only
        terms["d_aux"] = cfg.aux_weight * F.cross_entropy(real_aux, real_cond["class"])
    if state.step % cfg.r1_every == 0:  # lazy R1 on real images, R2 on generated ones
        for name, weight, images, cond in (
            ("d_r1", cfg.r1_weight, real_in, real_cond),
            ("d_r2", cfg.r2_weight, fake_in, fake.cond),
        ):
            if weight:
                leaf = images.detach().requires_grad_(True)
                scores = discriminator.judge(leaf, cond).logits
                terms[name] = 0.5 * weight * cfg.r1_every * r1_penalty(scores, leaf)
    backward_and_step(state, sum(terms.values()), state.opt_d, state.scaler_d, discriminator)
    logs = {k: v.detach() for k, v in terms.items()}
    if state.ada is not None:  # ADA's r: how surely D calls its training reals real
        realness = real_logits if cfg.kind in ABSOLUTE_LOGITS else real_logits - fake_logits
        logs["d_real_sign"] = torch.sign(realness.detach().float()).mean()
    return logs | {"d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}


def g_step(
    state: TrainState,
    fake: FakeBatch,
    cfg: LossConfig,
    policy: tuple[str, ...] = (),
    real: torch.Tensor | None = None,
    fm_weight: float = 0.0,
    aided_weight: float = 0.0,
    real_cond: Conditions | None = None,
) -> dict[str, torch.Tensor]:
    """Update G through `fake` (made with grad) to fool D (and the vision-aided second D, when
    there is one). D's trainable weights are frozen for the pass, which skips computing their
    gradients. With a feature-matching teacher, G also matches the teacher's feature statistics
    of `real`. A relativistic loss compares each generated image's logit with that of the real
    image `real` (under `real_cond`) paired with it; those logits are constants for G."""
    trainable = [p for p in state.discriminator.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.requires_grad_(False)
    try:
        fake_in = diff_augment(fake.images, policy, state.augment_p)
        judged = state.discriminator.judge(fake_in, fake.cond)
        if cfg.kind in RELATIVISTIC:
            if real is None:
                raise ValueError(f"loss.kind={cfg.kind!r} needs the real batch in G's step")
            with torch.no_grad():
                paired = state.discriminator(diff_augment(real, policy, state.augment_p), real_cond)
            terms = {"g_adv": G_LOSSES[cfg.kind](judged.logits, paired)}
        else:
            terms = {"g_adv": G_LOSSES[cfg.kind](judged.logits)}
        if state.aided is not None and aided_weight:
            terms["g_aided"] = aided_weight * AIDED_G_LOSS(state.aided(fake_in, fake.cond))
        if judged.aux is not None:  # ACGAN: G makes images D classifies as the class asked for
            terms["g_aux"] = cfg.aux_weight * F.cross_entropy(judged.aux, fake.cond["class"])
        terms |= {f"g_{k}": v for k, v in information_term(state, judged, fake.codes, cfg).items()}
        if state.teacher is not None and fm_weight and real is not None:
            terms["g_fm"] = fm_weight * feature_matching_loss(state.teacher, real, fake.images)
        total = sum(terms.values())
        backward_and_step(state, total, state.opt_g, state.scaler_g, state.generator)
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    return {k: v.detach() for k, v in terms.items()}
