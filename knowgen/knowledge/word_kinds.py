"""Kinds given in words: a free description (`text`, read by the frozen sentence encoder) and a
WordNet concept (`concept`, its vector learned from the graph around the dataset's classes). Both
reach outside the network for their meaning, which is why their heavy parts are imported only
when used (a model without text never loads the sentence encoder)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from knowgen.knowledge.encoders import Conditions, Knowledge, KnowledgeEncoder
from knowgen.knowledge.kind_base import (
    HUE_BINS,
    KindContext,
    KnowledgeError,
    as_given,
    hue_bin,
    per_image,
)


class TextKind:
    """A description, embedded by the frozen offline sentence encoder (cached)."""

    name = "text"
    max_characters = 500

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        given = as_given(value, num, (context.text_dim,), "text")
        if given is not None:
            return given.float()
        prompts = self.prompts(value, num)
        if context.rewrite_text is not None:
            prompts = [context.rewrite_text(p) for p in prompts]
        vectors = self.embed(prompts, context)
        return context.anchor_text(vectors) if context.anchor_text is not None else vectors

    def prompts(self, value: Any, num: int) -> list[str]:
        """One prompt per image, each checked (a clear error for an empty or an endless one)."""
        prompts = per_image(value, num, "text")
        for prompt in prompts:
            if not isinstance(prompt, str) or not prompt.strip():
                raise KnowledgeError(f"text {prompt!r}: give a non-empty description")
            if len(prompt) > self.max_characters:
                raise KnowledgeError(f"text is {len(prompt)} characters; at most 500 are read")
        return prompts

    def embed(self, prompts: list[str], context: KindContext) -> torch.Tensor:
        from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

        distinct = sorted(set(prompts))
        embedder = SentenceEmbedder(context.text_model)
        vectors = cached_embeddings(embedder, distinct)["pooled"]
        if vectors.shape[1] != context.text_dim:
            raise KnowledgeError(
                f"{embedder.name} gives {vectors.shape[1]}-d embeddings; this generator was "
                f"trained on {context.text_dim}-d ones"
            )
        where = {prompt: i for i, prompt in enumerate(distinct)}
        return vectors[[where[p] for p in prompts]]

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        from knowgen.knowledge.text import TextEncoder

        return TextEncoder(context.text_dim, dim, context.text_noise)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        """Each image's description from its factors, embedded (see `describe_images`)."""
        from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

        captions, index = describe_images(dataset)
        table = cached_embeddings(SentenceEmbedder(context.text_model), captions)["pooled"]
        return table[index]


class ConceptEncoder(KnowledgeEncoder):
    """A concept's graph embedding (B, d_graph) -> MLP -> one token."""

    key = "concept"

    def __init__(self, graph_dim: int, dim: int) -> None:
        super().__init__()
        self.graph_dim = graph_dim
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(graph_dim, dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def forward(self, conditions: Conditions) -> Knowledge:
        pooled = self.net(self.read(conditions).float())
        return Knowledge(tokens=pooled[:, None, :], pooled=pooled)

    def placeholder(self, batch: int) -> Conditions:
        return Conditions({"concept": torch.zeros(batch, self.graph_dim)})


class ConceptKind:
    """A WordNet concept, given as a word ("parka", "flip flops") or a synset name
    ("coat.n.01"): its vector learned from the graph around the dataset's classes
    (`knowledge/concepts.py`). Real images carry their class's concept."""

    name = "concept"

    def embeddings(self, context: KindContext):
        from knowgen.knowledge.concepts import concepts_for_dataset

        return concepts_for_dataset(context.dataset, list(context.class_names))

    def parse(self, value: Any, num: int, context: KindContext) -> torch.Tensor:
        from knowgen.knowledge.concepts import DIM

        given = as_given(value, num, (DIM,), "concept")
        if given is not None:
            return given.float()
        concepts = self.embeddings(context)
        wordnet = concepts.wordnet
        rows = []
        for item in per_image(value, num, "concept"):
            text = str(item).strip().lower()
            senses = [wordnet.offset(text)] if ".n." in text else wordnet.synsets(text)
            inside = [s for s in senses if s in concepts.graph]
            if not inside:
                raise KnowledgeError(
                    f"concept {item!r} is not among the {len(concepts.graph.offsets)} WordNet "
                    "concepts around this model's classes (their kinds and what they are kinds of)"
                )
            rows.append(concepts.of(inside[0]))
        return torch.stack(rows)

    def encoder(self, dim: int, context: KindContext) -> KnowledgeEncoder:
        from knowgen.knowledge.concepts import DIM

        return ConceptEncoder(DIM, dim)

    def column(self, dataset, context: KindContext) -> torch.Tensor:
        if dataset.labels is None:
            raise ValueError("knowledge kind 'concept' needs a dataset with labels (classes)")
        context = KindContext(tuple(dataset.class_names), dataset=dataset.name)
        concepts = self.embeddings(context)
        table = torch.stack([concepts.class_vector(c) for c in dataset.class_names])
        return table[dataset.labels]


def describe_images(dataset) -> tuple[list[str], torch.Tensor]:
    """A description of every image: its own words where it has them (an emoji's name), else
    from its known factors: its class and colour ("a red dress", "a pair of blue trousers"), on
    `shapes` also its size and where it is ("a large green triangle at the top left"). Returns
    the distinct captions and each image's index."""
    from knowgen.data.shapes import FACTOR_BINS, factor_labels
    from knowgen.knowledge.captions import SYNONYMS, noun_phrase

    if dataset.descriptions:  # images that come with their own words (emoji names)
        distinct = sorted(set(dataset.descriptions))
        where = {caption: i for i, caption in enumerate(distinct)}
        return distinct, torch.tensor([where[d] for d in dataset.descriptions])
    if dataset.labels is None or "hue" not in dataset.attributes:
        raise ValueError(
            "text knowledge in fusion needs images with their own names (emoji) or a labelled "
            "dataset with hues"
        )
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
