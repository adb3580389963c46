"""Knowledge fusion: several kinds of knowledge (object class, colour, structure, a description)
given to one generator together, each of which may be left out.

Each kind has its own encoder to tokens (class: 1 token; hue: 1 token from its point on the
colour circle; size, rotation, position (on `shapes`): 1 token from the attribute values;
structure: one token per cell of a coarse occupancy mask; text: the projected
sentence embedding of a description of the image, "a red dress", "a large blue triangle at the
top left", from the frozen language model of `knowgen.knowledge.text`). A kind that is not given,
for some images or for all, is replaced by that kind's learned *null* token, and training drops
each kind at random (`model.condition_dropout`; `model.single_kind_prob` also keeps a single kind
for some images), so any subset can be asked for at sampling time
(as classifier-free guidance trains its unconditional branch).

How G reads the fused knowledge (`model.fusion`):
- `concat`: the kinds' pooled vectors, concatenated and projected, join z at G's input only;
- `film`: the same vector also drives conditional BatchNorm (FiLM) at every stage;
- `cross-attention`: as `film`, plus cross-attention blocks whose queries are image positions and
  whose keys/values are all the kinds' tokens (the Transformer as the fusion mechanism).
D scores agreement with every kind: its pooled vector is the *sum* of per-kind vectors, so the
projection term `<sum_k e_k, h>` is one projection term per kind.

Guidance (sampling only): `conditions["guidance"]` = s (one per image) moves every given kind's
vector and tokens from its null token towards, and past, what was given: null + s (given - null).
s = 1 is plain conditioning; s > 1 is the GAN counterpart of classifier-free guidance, made
possible by the same dropout-trained null tokens (a GAN has no score to extrapolate, so the
condition's embedding is extrapolated instead).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from knowgen.knowledge.encoders import ClassEncoder, Conditions, Knowledge, KnowledgeEncoder
from knowgen.knowledge.text import DEFAULT_TEXT_MODEL, TextEncoder

# continuous attributes a dataset may know (`shapes`), each a kind of its own: kind -> the
# dataset attributes (each in [0, 1)) it reads
ATTRIBUTE_KINDS = {"size": ("size",), "rotation": ("rotation",), "position": ("x", "y")}
FUSION_KINDS = ("class", "hue", "structure", "text", *ATTRIBUTE_KINDS)
MAX_GUIDANCE = 10.0  # beyond a few, extrapolated conditions only break the images
HUE_BINS = ["red", "yellow", "green", "cyan", "blue", "magenta"]  # 60 degrees each, red at 0


def hue_bin(hue: torch.Tensor) -> torch.Tensor:
    """Which of the six named 60-degree colour bins (centred on red, yellow, ...) each hue is."""
    return ((hue * 6 + 0.5).floor() % 6).long()


def given(conditions: Conditions, key: str, batch: int, device) -> torch.Tensor:
    """Which images are given condition `key` (B,): all if present without a `<key>_given`
    mask, none if absent."""
    if key not in conditions:
        return torch.zeros(batch, dtype=torch.bool, device=device)
    mask = conditions.get(f"{key}_given")
    return torch.ones(batch, dtype=torch.bool, device=device) if mask is None else mask.bool()


class HueEncoder(KnowledgeEncoder):
    """A hue in [0, 1) -> its point (cos, sin) on the colour circle -> MLP -> one token."""

    key = "hue"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(2, dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def forward(self, conditions: Conditions) -> Knowledge:
        angle = 2 * math.pi * self.read(conditions).float()
        pooled = self.net(torch.stack([angle.cos(), angle.sin()], dim=1))
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        return {"hue": torch.zeros(batch)}


class AttributeEncoder(KnowledgeEncoder):
    """Continuous attribute values in [0, 1) (B,) or (B, k) -> MLP -> one token. The hue has
    its own encoder because it is circular; a size or a rotation is not."""

    def __init__(self, key: str, width: int, dim: int) -> None:
        super().__init__()
        self.key = key
        self.width = width
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(width, dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def forward(self, conditions: Conditions) -> Knowledge:
        values = self.read(conditions).float()
        values = values.reshape(len(values), -1)
        if values.shape[1] != self.width:
            raise ValueError(
                f"{self.key} needs {self.width} value(s) per image, got {values.shape[1]}"
            )
        pooled = self.net(2 * values - 1)
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        shape = (batch,) if self.width == 1 else (batch, self.width)
        return {self.key: torch.full(shape, 0.5)}


class StructureEncoder(KnowledgeEncoder):
    """An occupancy mask (B, 1, g, g) -> small CNN -> one token per cell (B, g*g, d) carrying
    its position; pooled = a linear map of all the tokens in order. (Their mean would keep how
    much the object covers but lose *where*: the convolution is translation-equivariant and an
    added position embedding averages to a constant.)"""

    key = "structure"

    def __init__(self, dim: int, grid: int = 7, hidden: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.grid = grid
        self.net = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, dim, 3, padding=1),
        )
        self.position = nn.Parameter(torch.randn(1, dim, grid, grid) * 0.02)
        self.pool = nn.Linear(dim * grid * grid, dim)

    def forward(self, conditions: Conditions) -> Knowledge:
        mask = self.read(conditions).float()
        if mask.shape[1:] != (1, self.grid, self.grid):
            raise ValueError(
                f"structure must be masks (B, 1, {self.grid}, {self.grid}), got {tuple(mask.shape)}"
            )
        tokens = (self.net(mask) + self.position).flatten(2).transpose(1, 2)  # (B, g*g, d)
        return Knowledge(tokens=tokens, pooled=self.pool(tokens.flatten(1)))

    def placeholder(self, batch: int) -> Conditions:
        return {"structure": torch.zeros(batch, 1, self.grid, self.grid)}


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
            raise ValueError(f"model.fusion_kinds {list(kinds)}: choose from {FUSION_KINDS}")
        self.kinds = tuple(kinds)
        self.dim = out_dim or dim
        self.num_classes = num_classes if "class" in kinds else 0
        self.sum_pooled = sum_pooled
        self.text_model = text_model  # which language model the text vectors must come from
        attribute_makers = {
            kind: partial(AttributeEncoder, kind, len(names), dim)
            for kind, names in ATTRIBUTE_KINDS.items()
        }
        makers = attribute_makers | {
            "class": lambda: ClassEncoder(num_classes, dim),
            "hue": lambda: HueEncoder(dim),
            "structure": lambda: StructureEncoder(dim),
            "text": lambda: TextEncoder(text_dim, dim, text_noise),
        }
        self.encoders = nn.ModuleDict({kind: makers[kind]() for kind in self.kinds})
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
        conditions = conditions or {}
        batch, device = self._batch(conditions)
        guidance = conditions.get("guidance")
        pooled_parts, token_parts = [], []
        for kind in self.kinds:
            has = given(conditions, kind, batch, device)
            null_pooled = self.null_pooled[kind].expand(batch, -1)
            if has.any():
                filled = {kind: conditions[kind]}
                knowledge = self.encoders[kind](filled)
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
            f"this model fuses {list(self.kinds)}; give at least one of them (e.g. "
            "{'class': ...}) or pass every kind with a *_given mask of False"
        )

    def placeholder(self, batch: int) -> Conditions:
        cond: Conditions = {}
        for kind in self.kinds:
            cond |= self.encoders[kind].placeholder(batch)
        return cond


def drop_conditions(
    cond: Conditions, kinds: tuple[str, ...], p: float, single: float = 0.0
) -> Conditions:
    """Each kind left out of each image with probability `p` (a `<kind>_given` mask), so the
    networks learn every subset of the knowledge; and, with probability `single`, all but one
    kind (chosen uniformly) left out, so that each kind is also learned alone, which `p` alone
    rarely asks for (with p = 0.1 and four kinds, one kind alone for 0.4% of images)."""
    if not p and not single:
        return cond
    out = dict(cond)
    present = [kind for kind in kinds if kind in cond]
    for kind in present:
        keep = torch.rand(len(cond[kind]), device=cond[kind].device) >= p
        out[f"{kind}_given"] = keep & given(cond, kind, len(keep), keep.device)
    if single and present:
        first = cond[present[0]]
        alone = torch.rand(len(first), device=first.device) < single
        pick = torch.randint(len(present), (len(first),), device=first.device)
        for i, kind in enumerate(present):
            kept = given(cond, kind, len(first), first.device)
            out[f"{kind}_given"] = torch.where(alone, (pick == i) & kept, out[f"{kind}_given"])
    return out


def parse_holdout(pairs: tuple[str, ...], class_names: list[str]) -> list[tuple[int, int]]:
    """ "dress:red" -> (class index, hue bin index); unknown names are a clear error."""
    from knowgen.knowledge.encoders import class_index

    parsed = []
    for pair in pairs:
        name, _, colour = pair.partition(":")
        if colour.strip().lower() not in HUE_BINS:
            raise ValueError(f"data.holdout_pairs {pair!r}: colour must be one of {HUE_BINS}")
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
    """Which images (N,) of `dataset` fall in the `data.holdout_pairs`; none when there are none.
    Training leaves them out; evaluation asks for exactly them."""
    if not holdout_pairs:
        return torch.zeros(len(dataset), dtype=torch.bool)
    pairs = parse_holdout(holdout_pairs, list(dataset.class_names))
    if dataset.labels is None or "hue" not in dataset.attributes:
        raise ValueError("data.holdout_pairs needs labels and hues (fashion-mnist-color or shapes)")
    return in_pairs(dataset.labels, dataset.attributes["hue"], pairs)


def check_guidance(scale: float, what: str) -> None:
    """A guidance scale must lie in [0, MAX_GUIDANCE]: 0 = nothing given, 1 = as trained."""
    if not 0 <= scale <= MAX_GUIDANCE:
        raise ValueError(f"{what} {scale}: give a scale in [0, {MAX_GUIDANCE:g}] (1 = as trained)")


def describe_images(dataset) -> tuple[list[str], torch.Tensor]:
    """A description of every image from its known factors: its class and colour ("a red
    dress", "a pair of blue trousers"), on `shapes` also its size and where it is ("a large
    green triangle at the top left"). Returns the distinct captions and each image's index."""
    from knowgen.data.shapes import FACTOR_BINS, factor_labels
    from knowgen.knowledge.captions import SYNONYMS, noun_phrase

    if dataset.labels is None or "hue" not in dataset.attributes:
        raise ValueError("text knowledge in fusion needs a labelled dataset with hues")
    synonyms = SYNONYMS.get(dataset.name.removesuffix("-color"), {})
    nouns = [synonyms.get(name, [name])[0] for name in dataset.class_names]
    colours = hue_bin(dataset.attributes["hue"]).tolist()
    labels = dataset.labels.tolist()
    if dataset.name == "shapes":
        bins = factor_labels(dataset.attributes)
        sizes, places = bins["size"].tolist(), bins["position"].tolist()
        phrases = [
            noun_phrase(f"{FACTOR_BINS['size'][s]} {HUE_BINS[c]}", nouns[k])
            + (" in the centre" if p == 4 else f" at the {FACTOR_BINS['position'][p]}")
            for k, c, s, p in zip(labels, colours, sizes, places, strict=True)
        ]
    else:
        phrases = [noun_phrase(HUE_BINS[c], nouns[k]) for k, c in zip(labels, colours, strict=True)]
    distinct = sorted(set(phrases))
    where = {caption: i for i, caption in enumerate(distinct)}
    return distinct, torch.tensor([where[p] for p in phrases])


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
        from knowgen.data.color import structure_mask

        self.kinds = kinds
        self.dropout = dropout
        self.single = single
        self.device = torch.device(device)
        self.columns: dict[str, torch.Tensor] = {}
        if "class" in kinds:
            if dataset.labels is None:
                raise ValueError("model.fusion_kinds has 'class' but the dataset has no labels")
            self.columns["class"] = dataset.labels
        if "hue" in kinds:
            if "hue" not in dataset.attributes:
                raise ValueError(
                    f"model.fusion_kinds has 'hue' but dataset {dataset.name!r} has no hue "
                    "attribute; use data.name='fashion-mnist-color' or 'shapes'"
                )
            self.columns["hue"] = dataset.attributes["hue"]
        if "structure" in kinds:
            chunks = [structure_mask(part) for part in dataset.images.split(4096)]
            self.columns["structure"] = torch.cat(chunks)
        for kind in (k for k in kinds if k in ATTRIBUTE_KINDS):
            names = ATTRIBUTE_KINDS[kind]
            missing = [n for n in names if n not in dataset.attributes]
            if missing:
                raise ValueError(
                    f"model.fusion_kinds has {kind!r} but dataset {dataset.name!r} has no "
                    f"{missing} attribute; use data.name='shapes'"
                )
            values = torch.stack([dataset.attributes[n] for n in names], dim=1)
            self.columns[kind] = values[:, 0] if len(names) == 1 else values
        self.captions: list[str] = []
        self.text_table = torch.zeros(0)
        if "text" in kinds:  # each image's caption index; the vectors sit once in a table
            from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

            self.captions, self.columns["text"] = describe_images(dataset)
            embedder = SentenceEmbedder(text_model)
            self.text_table = cached_embeddings(embedder, self.captions)["pooled"].to(device)
        self.columns = {k: v.to(self.device) for k, v in self.columns.items()}
        self.size = len(dataset)

    def of_images(self, index: torch.Tensor) -> Conditions:
        """The conditions of dataset images `index`, every kind given."""
        index = index.to(self.device)
        out = {kind: column[index] for kind, column in self.columns.items()}
        if "text" in out:
            out["text"] = self.text_table[out["text"]]
        return out

    def for_real(self, index: torch.Tensor) -> Conditions:
        return drop_conditions(self.of_images(index), self.kinds, self.dropout, self.single)

    def for_fake(self, batch: int) -> Conditions:
        return self.for_real(torch.randint(self.size, (batch,), device=self.device))
