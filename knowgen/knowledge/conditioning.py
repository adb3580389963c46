"""How a model is conditioned (`knowledge.condition`): one registry of conditioning modes, each of
which knows its encoder, the knowledge kinds it accepts, how training draws its conditions and
how a request for images becomes conditions. Nothing outside `knowgen/knowledge/` branches on
the mode's name.

- `none`: no knowledge;
- `class`: one class per image (a learned embedding);
- `text`: a caption per image, embedded by the frozen sentence encoder; D is matching-aware;
- `fusion`: any subset of several kinds (`knowledge.fusion_kinds`), each dropped at random while
  training so that any subset can be asked for later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from knowgen.knowledge.config import KnowledgeConfig
from knowgen.knowledge.encoders import (
    ClassEncoder,
    Conditions,
    KnowledgeEncoder,
    balanced_classes,
)
from knowgen.knowledge.kinds import KnowledgeError

log = logging.getLogger(__name__)

FIXED_SEED = 1234  # the fixed draws of a run's sample grids


def accepted_kinds(cfg: KnowledgeConfig) -> tuple[str, ...]:
    """The kinds of knowledge a model built with knowledge config `cfg` takes when sampling."""
    return {
        "none": (),
        "class": ("class",),
        "text": ("text",),
        "fusion": tuple(cfg.fusion_kinds),
    }[cfg.condition]


def takes_guidance(cfg: KnowledgeConfig) -> bool:
    """Only fused knowledge has null tokens to extrapolate from (see `knowledge.fusion`)."""
    return cfg.condition == "fusion"


def text_grounder(cfg: KnowledgeConfig, class_names: list[str], dataset: str):
    """The WordNet grounding of a text model's prompts (`knowledge.ground_text`): in the
    classes of class captions, or in the words of emoji names; or None (other modes, captions
    files, datasets without reviewed synsets, no WordNet)."""
    if dataset == "emoji" and "text" in accepted_kinds(cfg) and cfg.ground_text:
        from knowgen.data.emoji import name_texts
        from knowgen.knowledge.grounding import LazyPromptGrounder, vocabulary_grounder

        return LazyPromptGrounder(lambda: vocabulary_grounder(name_texts()))
    if cfg.condition != "text" or not cfg.ground_text or cfg.captions not in (None, "none"):
        return None
    from knowgen.knowledge.grounding import prompt_grounder

    return prompt_grounder(class_names, dataset)


def prompt_reader(
    cfg: KnowledgeConfig,
    class_names: list[str],
    grounder,
    text_conditions: Callable[[], Any],
    embed: Callable[[list[str]], Any],
):
    """What a text model trained on class captions reads a prompt as
    (`knowledge/prompt_reading.py`), or None: for models that take no text of their own, and for
    captions files, whose phrasings describe single images (anchoring to one would drop the
    combinations a prompt asks for, and their bank needs the image folder, which an export
    shared elsewhere lacks). `text_conditions` builds the caption bank and its embeddings on
    first use; prompts are anchored to the nearest training phrasing with
    `knowledge.text_anchor`."""
    if cfg.condition != "text" or cfg.captions not in (None, "none"):
        return None
    from knowgen.knowledge.prompt_reading import CaptionAnchor, PromptReader

    anchors = cfg.text_anchor

    def anchor() -> CaptionAnchor:
        return CaptionAnchor.of_conditions(text_conditions(), class_names)

    return PromptReader(grounder, anchor, anchors, embed)


def condition_classes(cfg: KnowledgeConfig, aux_classifier: bool, num_classes: int) -> int:
    """How many classes the networks are conditioned on: the dataset's, or 0 if unconditional.
    A text-conditional model is given no class, but its ACGAN head (if any) learns the classes."""
    if cfg.condition == "none" or (cfg.condition == "text" and not aux_classifier):
        return 0
    if cfg.condition == "fusion" and "class" not in cfg.fusion_kinds and not aux_classifier:
        return 0
    if num_classes < 1:
        raise ValueError(
            f"knowledge.condition={cfg.condition!r} needs a dataset with labels; this one has none"
        )
    return num_classes


def condition_encoder(
    cfg: KnowledgeConfig, num_classes: int, dim: int, noise: float = 0.0, for_d: bool = False
) -> KnowledgeEncoder | None:
    """The encoder that maps the knowledge `cfg.condition` names into a network (width `dim`);
    `noise` (text) applies to G's, `for_d` marks D's."""
    from knowgen.knowledge.fusion import FusionEncoder
    from knowgen.knowledge.text import TextEncoder

    if cfg.condition == "text":
        return TextEncoder(cfg.text_dim, dim, noise)
    if cfg.condition == "fusion":  # G concatenates the kinds; D sums them (a term per kind)
        text = {"text_dim": cfg.text_dim, "text_noise": noise, "text_model": cfg.text_model}
        if for_d:
            return FusionEncoder(
                cfg.fusion_kinds, num_classes, cfg.cond_dim, True, out_dim=dim, **text
            )
        return FusionEncoder(cfg.fusion_kinds, num_classes, dim, **text)
    return ClassEncoder(num_classes, dim) if num_classes else None


class TrainingConditions(Protocol):
    """What training draws: conditions of a real batch (by global dataset index), of a generated
    batch, mismatched ones for a matching-aware D, and the fixed ones of the sample grids."""

    grid_columns: int | None
    text: Any  # a text run's embedded caption bank (`TextConditions`), which evaluation reuses

    def for_real(self, index: torch.Tensor) -> Conditions | None: ...
    def for_fake(self, batch: int) -> Conditions | None: ...
    def mismatched(self, index: torch.Tensor) -> Conditions | None: ...
    def fixed(self, num: int) -> Conditions | None: ...
    def for_labels(self, labels: torch.Tensor) -> Conditions | None:
        """The conditions of real images known only by their labels (held-out images); raises
        NotImplementedError where a label does not determine them (a caption, a hue)."""


@dataclass
class NoConditions:
    """An unconditional run: nothing to draw."""

    grid_columns: int | None = None
    text: Any = None

    def for_real(self, index: torch.Tensor) -> None:
        return None

    def for_fake(self, batch: int) -> None:
        return None

    def mismatched(self, index: torch.Tensor) -> None:
        return None

    def fixed(self, num: int) -> None:
        return None

    def for_labels(self, labels: torch.Tensor) -> None:
        return None


@dataclass
class ClassConditions:
    """Real images bring their labels; generated ones are asked for uniform classes."""

    labels: torch.Tensor  # (N,) on the training device
    num_classes: int
    text: Any = None

    @property
    def grid_columns(self) -> int:
        return self.num_classes

    def for_real(self, index: torch.Tensor) -> Conditions:
        return Conditions({"class": self.labels[index]})

    def for_fake(self, batch: int) -> Conditions:
        classes = torch.randint(self.num_classes, (batch,), device=self.labels.device)
        return Conditions({"class": classes})

    def mismatched(self, index: torch.Tensor) -> None:
        return None

    def fixed(self, num: int) -> Conditions:
        """Classes 0..K-1 repeated: with K images per grid row, each column is one class."""
        return Conditions({"class": balanced_classes(num, self.num_classes).to(self.labels.device)})

    def for_labels(self, labels: torch.Tensor) -> Conditions:
        return Conditions({"class": labels.to(self.labels.device)})


@dataclass
class CaptionConditions:
    """A text run: each real image's caption group (its class, or itself) and the bank."""

    text: Any  # knowledge.text.TextConditions
    groups: torch.Tensor  # (N,) caption group of each training image

    @property
    def grid_columns(self) -> int | None:
        bank = self.text.bank
        return bank.num_groups if bank.groups_are_classes else None

    def for_real(self, index: torch.Tensor) -> Conditions:
        return self.text.for_real(self.groups[index])

    def for_fake(self, batch: int) -> Conditions:
        return self.text.for_fake(batch)

    def mismatched(self, index: torch.Tensor) -> Conditions:
        return self.text.mismatched(self.groups[index])

    def fixed(self, num: int) -> Conditions:
        """One fixed training phrasing of each class per column (a captions-file run shows the
        first images' captions)."""
        text = self.text
        if text.bank.groups_are_classes:
            classes = balanced_classes(num, text.bank.num_groups)
            return text.for_classes(classes, held_out=False, seed=FIXED_SEED)
        first = [text.bank.ids(g)[0] for g in range(min(num, text.bank.num_groups))]
        ids = torch.tensor(first * (num // len(first) + 1))[:num]
        return text.conditions(ids.to(text.device))

    def for_labels(self, labels: torch.Tensor) -> Conditions:
        raise NotImplementedError("a text run's real images are known by their captions")


@dataclass
class FusedRun:
    """A fusion run: every training image's knowledge of each kind."""

    fused: Any  # knowledge.fusion.FusedConditions
    grid_columns: int | None
    text: Any = None

    def for_real(self, index: torch.Tensor) -> Conditions:
        return self.fused.for_real(index)

    def for_fake(self, batch: int) -> Conditions:
        return self.fused.for_fake(batch)

    def mismatched(self, index: torch.Tensor) -> None:
        return None

    def fixed(self, num: int) -> Conditions:
        """The knowledge of `num` images spread evenly over the dataset (a dataset sorted by
        class shows every class), every kind given."""
        return self.fused.of_images(torch.arange(num) * self.fused.size // num)

    def for_labels(self, labels: torch.Tensor) -> Conditions:
        raise NotImplementedError("a fusion run's real images carry more than their labels")


def _none(cfg, dataset, device, num_classes):
    return dataset, NoConditions()


def _class(cfg, dataset, device, num_classes):
    return dataset, ClassConditions(dataset.labels.to(device), num_classes)


def _text(cfg, dataset, device, num_classes):
    from knowgen.knowledge.text import caption_bank_for, load_text_conditions

    bank, keep = caption_bank_for(dataset, cfg.captions)
    dataset = dataset.subset(keep) if keep is not None else dataset
    text = load_text_conditions(cfg.text_model, bank, device)
    trained, held = int((~bank.held_out).sum()), int(bank.held_out.sum())
    log.info("text conditions: %d training and %d held-out captions", trained, held)
    by_class = bank.groups_are_classes
    groups = dataset.labels if by_class else torch.arange(len(dataset))
    return dataset, CaptionConditions(text, groups.to(device))


def _fusion(cfg, dataset, device, num_classes):
    from knowgen.knowledge.fusion import FusedConditions, held_out

    if cfg.holdout_pairs:  # never train on the held-out (class, colour) pairs
        held = held_out(dataset, cfg.holdout_pairs)
        dataset = dataset.subset((~held).nonzero().flatten())
        pairs = len(cfg.holdout_pairs)
        log.info("held out %d training images of %d pairs", int(held.sum()), pairs)
    fused = FusedConditions(
        dataset,
        cfg.fusion_kinds,
        cfg.condition_dropout,
        device,
        cfg.text_model,
        cfg.single_kind_prob,
    )
    return dataset, FusedRun(fused, num_classes or None)


Builder = Callable[..., tuple[Any, TrainingConditions]]
TRAINING_CONDITIONS: dict[str, Builder] = {
    "none": _none,
    "class": _class,
    "text": _text,
    "fusion": _fusion,
}


def training_conditions(
    cfg: KnowledgeConfig, aux_classifier: bool, dataset, device
) -> tuple[Any, TrainingConditions]:
    """The dataset a run trains on (a mode may leave images out: uncaptioned ones, held-out
    pairs) and how it draws conditions; `aux_classifier` (D's ACGAN head) also needs classes."""
    num_classes = len(dataset.class_names) if dataset.labels is not None else 0
    k = condition_classes(cfg, aux_classifier, num_classes)
    return TRAINING_CONDITIONS[cfg.condition](cfg, dataset, device, k)


def request(
    cfg: KnowledgeConfig,
    network: torch.nn.Module,
    given: dict[str, torch.Tensor],
    num: int,
    guidance: float | None,
) -> Conditions | None:
    """The conditions that ask `network` (built with knowledge config `cfg`) for `num` images of
    the parsed knowledge `given` (kind -> tensor of `num` rows). What is not given: a class
    model makes every class equally often; a fusion model uses each kind's null token; a text
    model needs its text."""
    if guidance is not None and not takes_guidance(cfg):
        raise KnowledgeError("guidance needs a fusion generator (null tokens to extrapolate from)")
    if cfg.condition == "none":
        return None
    if cfg.condition == "class":
        classes = given.get("class", balanced_classes(num, network.num_classes))
        return Conditions({"class": classes.long()})
    if cfg.condition == "text":
        if "text" not in given:
            raise KnowledgeError("this generator is text-conditional: give a text (a description)")
        return Conditions({"text": given["text"]})
    # fusion: what is not given is each kind's null token; nothing at all, null everywhere
    cond = Conditions(dict(given)) if given else network.encoder.nothing(num)
    if guidance is not None:
        from knowgen.knowledge.fusion import check_guidance

        check_guidance(guidance, "guidance")
        cond.guidance = torch.full((num,), float(guidance))
    return cond
