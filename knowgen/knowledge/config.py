"""What a generator is told, and how it learns to listen: the `[knowledge]` config section.

Standard library only, like every config section. Before this section existed its keys lived in
`[model]` (condition, cond_dim, text_*, fusion*, condition_dropout, single_kind_prob), `[data]`
(captions, holdout_pairs) and `[eval]` (guidance); `MOVED_KEYS` lets old presets, `--set` values,
run directories and exports keep loading (`move_knowledge_keys`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

# the kinds of knowledge `knowledge/kinds.py` implements (tests check the two agree)
KIND_NAMES = (
    "class",
    "hue",
    "style",
    "structure",
    "text",
    "size",
    "rotation",
    "position",
    "concept",
)
MAX_GUIDANCE = 10.0  # beyond a few, extrapolated conditions only break the images
DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"

# the section each key lived in before `[knowledge]`
MOVED_KEYS = {
    "model": (
        "condition",
        "cond_dim",
        "text_model",
        "text_dim",
        "text_noise",
        "fusion",
        "fusion_kinds",
        "condition_dropout",
        "single_kind_prob",
    ),
    "data": ("captions", "holdout_pairs"),
    "eval": ("guidance",),
}


@dataclass(frozen=True)
class KnowledgeConfig:
    """Which knowledge conditions the generator (`condition`) and how it is encoded, dropped
    while training, held out and followed at sampling time. Conditioning needs model 'sagan'."""

    condition: Literal["none", "class", "text", "fusion"] = "none"
    cond_dim: int = 128  # width of G's condition embedding (feeds conditional BatchNorm)
    text_model: str = DEFAULT_TEXT_MODEL  # text (or fusion "text"): packaged model or a folder
    text_dim: int = 384  # text: the sentence embedding's size (the model's)
    text_noise: float = 0.0  # text: std of noise on G's embeddings while training
    fusion: Literal["concat", "film", "cross-attention"] = "film"  # condition="fusion": how G reads
    fusion_kinds: tuple[str, ...] = ("class", "hue", "structure")  # fusion: any of KIND_NAMES
    condition_dropout: float = 0.1  # condition="fusion": P(a kind is left out of an image)
    single_kind_prob: float = 0.0  # fusion: P(an image keeps only one kind, chosen at random)
    captions: str | None = None  # text conditioning on a folder: CSV/JSONL of (path, caption)
    holdout_pairs: tuple[str, ...] = ()  # fusion: (class, colour) pairs never trained on
    guidance: float = 1.0  # fusion: knowledge guidance scale of evaluated samples
    ground_text: bool = True  # text: words the captions never used are grounded in WordNet
    text_anchor: bool = True  # text, class captions: a prompt reads as its nearest trained caption

    def __post_init__(self) -> None:
        for key in ("cond_dim", "text_dim"):
            if getattr(self, key) < 1:
                raise ValueError(f"knowledge.{key} must be >= 1, got {getattr(self, key)}")
        unknown = sorted(set(self.fusion_kinds) - set(KIND_NAMES))
        if unknown or not self.fusion_kinds:
            raise ValueError(
                f"knowledge.fusion_kinds {list(self.fusion_kinds)}: choose from {list(KIND_NAMES)}"
            )
        if not 0 <= self.condition_dropout < 1:
            raise ValueError(
                f"knowledge.condition_dropout must be in [0, 1), got {self.condition_dropout}"
            )
        if not 0 <= self.single_kind_prob <= 1:
            raise ValueError(
                f"knowledge.single_kind_prob must be in [0, 1], got {self.single_kind_prob}"
            )
        if self.text_noise < 0:
            raise ValueError(f"knowledge.text_noise must be >= 0, got {self.text_noise}")
        if not 0 <= self.guidance <= MAX_GUIDANCE:
            raise ValueError(
                f"knowledge.guidance {self.guidance}: give a scale in [0, {MAX_GUIDANCE:g}] "
                "(1 = as trained)"
            )

    @property
    def conditional(self) -> bool:
        return self.condition != "none"

    @property
    def reader(self) -> str:
        """How G reads its knowledge: `fusion` for fused kinds; a single kind through FiLM (in
        models with normalisation layers to modulate)."""
        return self.fusion if self.condition == "fusion" else "film"


def move_knowledge_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw config with the knowledge keys that older presets, run directories and `--set`
    values put in [model], [data] or [eval] moved to [knowledge] (`knowledge.config.MOVED_KEYS`).
    A key given in both places with different values is an error naming both."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for section, keys in MOVED_KEYS.items():
        old = out.get(section)
        if not isinstance(old, dict):
            continue
        for key in keys:
            if key not in old:
                continue
            value = old.pop(key)
            knowledge = out.setdefault("knowledge", {})
            if key in knowledge and knowledge[key] != value:
                raise ValueError(
                    f"{section}.{key}={value!r} and knowledge.{key}={knowledge[key]!r} disagree; "
                    f"{section}.{key} is the old name of knowledge.{key}: give only that"
                )
            knowledge[key] = value
            log.debug("config: %s.%s is now knowledge.%s", section, key, key)
    return out
