"""Knowledge fusion: several kinds of knowledge (object class, colour, structure, a description)
given to one generator together, each of which may be left out.

Each kind has its own encoder to tokens (class: 1 token; hue: 1 token from its point on the
colour circle; size, rotation, position (on `shapes`): 1 token from the attribute values;
structure: one token per cell of a coarse occupancy mask; text: the projected
sentence embedding of a description of the image, "a red dress", "a large blue triangle at the
top left", from the frozen language model of `knowgen.knowledge.text`). A kind that is not given,
for some images or for all, is replaced by that kind's learned *null* token, and training drops
each kind at random (`knowledge.condition_dropout`; `knowledge.single_kind_prob` also keeps a
single kind for some images), so any subset can be asked for at sampling time
(as classifier-free guidance trains its unconditional branch).

How G reads the fused knowledge (`knowledge.fusion`):
- `concat`: the kinds' pooled vectors, concatenated and projected, join z at G's input only;
- `film`: the same vector also drives conditional BatchNorm (FiLM) at every stage;
- `cross-attention`: as `film`, plus cross-attention blocks whose queries are image positions and
  whose keys/values are all the kinds' tokens (the Transformer as the fusion mechanism).
D scores agreement with every kind: its pooled vector is the *sum* of per-kind vectors, so the
projection term `<sum_k e_k, h>` is one projection term per kind.

Guidance (sampling only): `Conditions.guidance` = s (one per image) moves every given kind's
vector and tokens from its null token towards, and past, what was given: null + s (given - null).
s = 1 is plain conditioning; s > 1 is the GAN counterpart of classifier-free guidance, made
possible by the same dropout-trained null tokens (a GAN has no score to extrapolate, so the
condition's embedding is extrapolated instead).
"""

from __future__ import annotations

import torch
from torch import nn

from knowgen.knowledge.config import DEFAULT_TEXT_MODEL, MAX_GUIDANCE
from knowgen.knowledge.encoders import (
    Conditions,
    Knowledge,
    KnowledgeEncoder,
    as_conditions,
    class_index,
)
from knowgen.knowledge.kinds import (  # noqa: F401 - re-exported: the fusion kinds' parts
    ATTRIBUTE_KINDS,
    HUE_BINS,
    KINDS,
    AttributeEncoder,
    HueEncoder,
    KindContext,
    KnowledgeError,
    StructureEncoder,
    describe_images,
    hue_bin,
)

# continuous attributes a dataset may know (`shapes`), each a kind of its own: kind -> the
# dataset attributes (each in [0, 1)) it reads
FUSION_KINDS = tuple(KINDS)


class FusionEncoder(KnowledgeEncoder):
    """Several kinds of knowledge -> one `Knowledge`: every kind's tokens side by side, and one
    pooled vector (the per-kind vectors concatenated and projected, or summed with `sum_pooled`).
    A kind not given for an image contributes its learned null tokens instead."""

    key = "fusion"

    def __init__(
        self,
        kinds: tuple[str, ...],
        num_classes: int,
        dim: int,
        sum_pooled: bool = False,
        out_dim: int | None = None,
        text_dim: int = 384,
        text_noise: float = 0.0,
        text_model: str = DEFAULT_TEXT_MODEL,
    ) -> None:
        super().__init__()
        unknown = sorted(set(kinds) - set(FUSION_KINDS))
        if unknown or not kinds:
            raise ValueError(f"knowledge.fusion_kinds {list(kinds)}: choose from {FUSION_KINDS}")
        self.kinds = tuple(kinds)
        self.dim = out_dim or dim
        self.num_classes = num_classes if "class" in kinds else 0
        self.sum_pooled = sum_pooled
        self.text_model = text_model  # which language model the text vectors must come from
        context = KindContext(
            text_model=text_model, text_dim=text_dim, text_noise=text_noise, num_classes=num_classes
        )
        self.encoders = nn.ModuleDict({k: KINDS[k].encoder(dim, context) for k in self.kinds})
        self.null_pooled = nn.ParameterDict(
            {kind: nn.Parameter(torch.zeros(dim)) for kind in self.kinds}
        )
        self.null_token = nn.ParameterDict(
            {kind: nn.Parameter(torch.randn(dim) * 0.02) for kind in self.kinds}
        )
        self.mix = None if sum_pooled else nn.Linear(dim * len(self.kinds), dim)
        # D's features are much wider than the kinds' encoders: one linear map out (of the sum,
        # so still one projection term per kind), started small like a class embedding's.
        self.out = None
        if out_dim and out_dim != dim:
            self.out = nn.Linear(dim, out_dim, bias=False)
            nn.init.normal_(self.out.weight, 0.0, (out_dim * dim * len(self.kinds)) ** -0.5)

    def forward(self, conditions: Conditions | None) -> Knowledge:
        conditions = as_conditions(conditions)
        batch, device = self._batch(conditions)
        guidance = conditions.guidance
        pooled_parts, token_parts = [], []
        for kind in self.kinds:
            has = conditions.is_given(kind, batch, device)
            null_pooled = self.null_pooled[kind].expand(batch, -1)
            if has.any():
                knowledge = self.encoders[kind](Conditions({kind: conditions[kind]}))
                pooled, tokens = knowledge.pooled, knowledge.tokens
                if guidance is not None:
                    scale = torch.as_tensor(guidance, device=device).float().expand(batch)
                    pooled = null_pooled + scale[:, None] * (pooled - null_pooled)
                    null = self.null_token[kind]
                    tokens = null + scale[:, None, None] * (tokens - null)
                keep = has.view(-1, 1)
                pooled = torch.where(keep, pooled, null_pooled)
                tokens = torch.where(keep[:, :, None], tokens, self.null_token[kind])
            else:  # nothing of this kind: null everywhere (one token suffices)
                pooled = null_pooled
                tokens = self.null_token[kind].expand(batch, 1, -1)
            pooled_parts.append(pooled)
            token_parts.append(tokens)
        if self.mix is None:
            fused = torch.stack(pooled_parts).sum(0)
        else:
            fused = self.mix(torch.cat(pooled_parts, dim=1))
        tokens = torch.cat(token_parts, dim=1)
        if self.out is not None:  # D reads the pooled vector only
            pooled = self.out(fused)
            return Knowledge(tokens=pooled[:, None, :], pooled=pooled)
        return Knowledge(tokens=tokens, pooled=fused)

    def _batch(self, conditions: Conditions) -> tuple[int, torch.device]:
        for kind in self.kinds:
            if kind in conditions:
                return len(conditions[kind]), conditions[kind].device
        raise ValueError(
            f"this model fuses {list(self.kinds)}; give at least one of them, or every kind with "
            "a `given` mask of False (see `FusionEncoder.nothing`)"
        )

    def placeholder(self, batch: int) -> Conditions:
        values = {}
        for kind in self.kinds:
            values |= self.encoders[kind].placeholder(batch).values
        return Conditions(values)

    def nothing(self, batch: int) -> Conditions:
        """Every kind present but given to no image: each kind's null token everywhere."""
        cond = self.placeholder(batch)
        cond.given = {kind: torch.zeros(batch, dtype=torch.bool) for kind in self.kinds}
        return cond


def drop_conditions(
    cond: Conditions, kinds: tuple[str, ...], p: float, single: float = 0.0
) -> Conditions:
    """Each kind left out of each image with probability `p` (its `given` mask), so the
    networks learn every subset of the knowledge; and, with probability `single`, all but one
    kind (chosen uniformly) left out, so that each kind is also learned alone, which `p` alone
    rarely asks for (with p = 0.1 and four kinds, one kind alone for 0.4% of images)."""
    if not p and not single:
        return cond
    masks = dict(cond.given)
    present = [kind for kind in kinds if kind in cond]
    for kind in present:
        keep = torch.rand(len(cond[kind]), device=cond[kind].device) >= p
        masks[kind] = keep & cond.is_given(kind, len(keep), keep.device)
    if single and present:
        first = cond[present[0]]
        alone = torch.rand(len(first), device=first.device) < single
        pick = torch.randint(len(present), (len(first),), device=first.device)
        for i, kind in enumerate(present):
            kept = cond.is_given(kind, len(first), first.device)
            masks[kind] = torch.where(alone, (pick == i) & kept, masks[kind])
    return Conditions(dict(cond.values), masks, cond.guidance)


def parse_holdout(pairs: tuple[str, ...], class_names: list[str]) -> list[tuple[int, int]]:
    """ "dress:red" -> (class index, hue bin index); unknown names are a clear error."""
    parsed = []
    for pair in pairs:
        name, _, colour = pair.partition(":")
        if colour.strip().lower() not in HUE_BINS:
            raise ValueError(f"knowledge.holdout_pairs {pair!r}: colour must be one of {HUE_BINS}")
        parsed.append((class_index(name, class_names), HUE_BINS.index(colour.strip().lower())))
    return parsed


def in_pairs(labels: torch.Tensor, hue: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Which images (N,) fall in one of the (class, hue bin) pairs."""
    bins = hue_bin(hue)
    hit = torch.zeros(len(labels), dtype=torch.bool)
    for c, b in pairs:
        hit |= (labels == c) & (bins == b)
    return hit


def held_out(dataset, holdout_pairs: tuple[str, ...]) -> torch.Tensor:
    """Which images (N,) of `dataset` fall in the `knowledge.holdout_pairs` (none without any).
    Training leaves them out; evaluation asks for exactly them."""
    if not holdout_pairs:
        return torch.zeros(len(dataset), dtype=torch.bool)
    pairs = parse_holdout(holdout_pairs, list(dataset.class_names))
    if dataset.labels is None or "hue" not in dataset.attributes:
        raise ValueError(
            "knowledge.holdout_pairs needs labels and hues (fashion-mnist-color or shapes)"
        )
    return in_pairs(dataset.labels, dataset.attributes["hue"], pairs)


def check_guidance(scale: float, what: str) -> None:
    """A guidance scale must lie in [0, MAX_GUIDANCE]: 0 = nothing given, 1 = as trained."""
    if not 0 <= scale <= MAX_GUIDANCE:
        raise KnowledgeError(
            f"{what} {scale}: give a scale in [0, {MAX_GUIDANCE:g}] (1 = as trained)"
        )


class FusedConditions:
    """The knowledge of every training image (class, hue, structure mask, description) on the
    device, and how training draws it: a real image's own, a generated image's those of a random
    real image (so the kinds stay jointly plausible), each kind dropped per image with
    probability `dropout`."""

    def __init__(
        self,
        dataset,
        kinds: tuple[str, ...],
        dropout: float,
        device,
        text_model: str = DEFAULT_TEXT_MODEL,
        single: float = 0.0,
    ) -> None:
        self.kinds = kinds
        self.dropout = dropout
        self.single = single
        self.device = torch.device(device)
        context = KindContext(
            tuple(dataset.class_names), text_model=text_model, dataset=dataset.name
        )
        self.columns = {k: KINDS[k].column(dataset, context).to(self.device) for k in kinds}
        self.size = len(dataset)

    def of_images(self, index: torch.Tensor) -> Conditions:
        """The conditions of dataset images `index`, every kind given."""
        index = index.to(self.device)
        return Conditions({kind: column[index] for kind, column in self.columns.items()})

    def for_real(self, index: torch.Tensor) -> Conditions:
        return drop_conditions(self.of_images(index), self.kinds, self.dropout, self.single)

    def for_fake(self, batch: int) -> Conditions:
        return self.for_real(torch.randint(self.size, (batch,), device=self.device))
