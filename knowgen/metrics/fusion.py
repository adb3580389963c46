"""Per-condition metrics of a knowledge-fusion generator: does it obey each kind of knowledge,
alone and together, and on (class, colour) pairs it never saw?

The conditions asked for are those of real *test* images (their class, hue and structure mask),
so every combination is a plausible one. For each generated image:
- class: the evaluator's verdict against the class asked for;
- hue: the circular-mean hue of its foreground pixels against the hue asked for, in degrees;
- structure: intersection over union of its 7x7 occupancy mask with the mask asked for;
- jointly: all three at once (class right, hue within 15 degrees, IoU >= 0.8);
- a description alone: the class and the colour bin (of six) it names;
- for a dataset with known factors (`shapes`): whether each factor classifier (size, position,
  rotation) finds in the generated image the factor of the real image whose knowledge was asked
  for, with all knowledge given and with the factor's own kind given alone (when it is one).
  Unless size, position or rotation are kinds of their own, they are given only through the
  structure mask (rotation barely: a 7x7 mask hardly shows it), so they measure how much of the
  layout G obeys.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from knowgen.data import DataConfig, load_dataset
from knowgen.data.color import hue_error_degrees, image_hue, mask_iou, structure_mask
from knowgen.data.datasets import known_factors, load_held_out_pairs
from knowgen.knowledge.fusion import FusedConditions, held_out, hue_bin
from knowgen.metrics.config import EvalConfig
from knowgen.metrics.evaluator import load_or_train_factor_classifiers
from knowgen.metrics.features import FeatureSet, extract_features
from knowgen.metrics.fid import compute_fid

HUE_TOLERANCE = 15.0  # degrees
IOU_TARGET = 0.8


def obeyed(
    images: torch.Tensor, cond: dict, logits: torch.Tensor | None, truth: dict | None = None
) -> dict[str, torch.Tensor]:
    """Per image (N,): class right, hue error in degrees, structure IoU, for the kinds given.
    A description (`text`) names a class and a colour: with `truth` (the described image's
    class and hue) it is judged on both, the colour by its 60-degree bin."""
    out: dict[str, torch.Tensor] = {}
    described = "text" in cond and truth is not None
    klass = cond.get("class", truth["class"] if described else None)
    if klass is not None and logits is not None:
        out["class_right"] = logits.argmax(1).cpu() == klass.cpu()
    described_hue = described and "hue" in truth  # emoji names are judged by class alone
    if "hue" in cond or described_hue:
        hue, _ = image_hue(images.float() / 255.0)
        if "hue" in cond:
            out["hue_error"] = hue_error_degrees(hue, cond["hue"].cpu())
        else:
            out["colour_right"] = hue_bin(hue) == hue_bin(truth["hue"].cpu())
    if "structure" in cond:
        out["iou"] = mask_iou(structure_mask(images), cond["structure"].cpu())
    return out


def summarise(per_image: dict[str, torch.Tensor]) -> dict[str, float]:
    scores: dict[str, float] = {
        f"{k.removesuffix('_right')}_accuracy": float(v.double().mean())
        for k, v in per_image.items()
        if k.startswith("factor_") or k == "colour_right"
    }
    if "class_right" in per_image:
        scores["class_accuracy"] = float(per_image["class_right"].double().mean())
    if "hue_error" in per_image:
        scores["hue_error_median"] = float(per_image["hue_error"].median())
    if "iou" in per_image:
        scores["structure_iou"] = float(per_image["iou"].mean())
    if {"class_right", "hue_error", "iou"} <= per_image.keys():
        joint = (
            per_image["class_right"]
            & (per_image["hue_error"] <= HUE_TOLERANCE)
            & (per_image["iou"] >= IOU_TARGET)
        )
        scores["joint_accuracy"] = float(joint.double().mean())
    return scores


def score_fusion_generator(
    generator,
    data_cfg: DataConfig,
    cfg: EvalConfig,
    evaluator,
    real: FeatureSet,
    score_features,
    knowledge,
) -> dict[str, Any]:
    """Every kind given together (`score_features(real, fake)`: FID and the rest; per-kind and
    joint scores), each kind alone, and the held-out (class, colour) pairs of
    `knowledge.holdout_pairs`, judged at `knowledge.guidance`."""
    kinds = generator.kinds
    test = load_dataset(replace(data_cfg, split="test"))
    held = held_out(test, knowledge.holdout_pairs)
    factor_nets = load_or_train_factor_classifiers(data_cfg)
    rng = torch.Generator().manual_seed(cfg.seed)
    num = cfg.num_samples

    def draw(pool: torch.Tensor) -> torch.Tensor:
        return pool[torch.randint(len(pool), (num,), generator=rng)]

    def knowledge_of(dataset) -> tuple[FusedConditions, dict, dict]:
        """Each image's conditions and what the judges compare with, read once per dataset."""
        source = FusedConditions(dataset, kinds, 0.0, "cpu", knowledge.text_model)
        truth = {"class": dataset.labels}
        if "hue" in dataset.attributes:
            truth["hue"] = dataset.attributes["hue"]
        factors = {factor: labels for factor, (labels, _) in known_factors(dataset).items()}
        return source, truth, factors

    def judge(known, index: torch.Tensor, given: tuple[str, ...]) -> tuple[dict, FeatureSet]:
        source, truth, factors = known
        cond = {k: v for k, v in source.of_images(index).items() if k in given}
        guidance = knowledge.guidance if knowledge.guidance != 1.0 else None
        images = generator.sample(num, cfg.seed, guidance=guidance, **cond).images
        feats = extract_features(evaluator, images)
        per_image = obeyed(images, cond, feats.logits, {k: v[index] for k, v in truth.items()})
        for factor, net in factor_nets.items():  # with all knowledge, or the factor's own
            if given == kinds or factor in given:
                predicted = extract_features(net, images).logits.argmax(1)
                per_image[f"factor_{factor}_right"] = predicted == factors[factor][index]
        return summarise(per_image), feats

    test_known = knowledge_of(test)
    seen = draw((~held).nonzero().flatten())
    obeys, feats = judge(test_known, seen, kinds)
    scores = score_features(real, feats) | obeys
    if knowledge.guidance != 1.0:
        scores["guidance"] = knowledge.guidance
    # each factor classifier's accuracy on real test images: the most a generator can score
    scores |= {f"factor_{f}_ceiling": net.test_accuracy for f, net in factor_nets.items()}
    for kind in kinds:  # each kind alone, the others left out
        alone, _ = judge(test_known, seen, (kind,))
        scores |= {f"{kind}_alone_{k}": v for k, v in alone.items()}
    pairs, pairs_name = held_out_pairs(test, held, data_cfg, knowledge)
    if pairs is not None:
        index = torch.arange(len(pairs))
        held_scores, held_feats = judge(knowledge_of(pairs), draw(index), kinds)
        # against the real images of those pairs (a few hundred, so biased upwards), not the
        # whole split, whose other classes the held-out samples are not asked to match
        held_real = extract_features(evaluator, pairs.images)
        if len(pairs) > 1:  # a covariance needs two images
            held_scores["fid"] = compute_fid(held_real.features, held_feats.features)
        scores |= {f"heldout_{k}": v for k, v in held_scores.items()}
        scores["heldout_pairs"] = pairs_name
    return scores


def held_out_pairs(test, held: torch.Tensor, data_cfg: DataConfig, knowledge):
    """The real images of the pairs training never saw, and what names them: those of
    `knowledge.holdout_pairs` in the test split, or the dataset's own (emoji: a fixed 10% of
    emoji in the style they were not trained in); (None, None) without any."""
    if knowledge.holdout_pairs:
        return test.subset(held.nonzero().flatten()), list(knowledge.holdout_pairs)
    own = load_held_out_pairs(data_cfg)
    if own is None or not len(own):
        return None, None
    return own, f"{data_cfg.name}: {len(own)} images of emoji trained in one style only"
