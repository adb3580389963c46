"""Concept embeddings learned from WordNet: knowledge representation learning in its classic
sense, vectors for the entities and relations of a knowledge graph.

The graph is WordNet's noun subgraph around a dataset's classes: every class synset, every kind
of it down to `DEPTH` levels, and its hypernyms up to `UP` levels, with the typed relations among
them (hypernym, hyponym, part/member/substance meronym and holonym). TransE (Bordes et al. 2013)
learns a vector per synset and per relation so that head + relation ~ tail, by a margin ranking
loss against corrupted triples; seconds on a CPU, cached. Held-out edges measure what the vectors
hold (link prediction: mean reciprocal rank and Hits@10 of the true tail among all synsets,
filtered, beside a random ranking's).

The `concept` kind (`knowledge/kinds.py`) gives a network the embedding of a grounded synset: a
word the captions never used ("parka") has a vector of its own, near its class's ("coat").
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from knowgen.cache import cache_dir, cached, read_tensors, write_tensors
from knowgen.knowledge.wordnet import RELATIONS, WordNet, load_wordnet

log = logging.getLogger(__name__)

DEPTH = 4  # levels of kinds below each class synset
UP = 2  # levels of hypernyms above
DIM = 32
EPOCHS = 300
MARGIN = 1.0
HELD_OUT = 0.1  # share of edges kept for link prediction
SEED = 2013


@dataclass
class ConceptGraph:
    """Synsets (by WordNet offset), their index, and typed edges (head, relation, tail)."""

    offsets: list[int]
    relations: list[str]
    triples: torch.Tensor  # (E, 3) long: head index, relation index, tail index

    def index(self, offset: int) -> int:
        return self._where[offset]

    def __post_init__(self) -> None:
        self._where = {o: i for i, o in enumerate(self.offsets)}

    def __contains__(self, offset: int) -> bool:
        return offset in self._where


def concept_graph(class_offsets: list[int], wordnet: WordNet | None = None) -> ConceptGraph:
    """The subgraph around `class_offsets` (see the module's docstring)."""
    wordnet = wordnet or load_wordnet()
    nodes: dict[int, None] = {}
    frontier = list(class_offsets)
    for _ in range(DEPTH + 1):  # the classes and their kinds
        nodes.update(dict.fromkeys(frontier))
        frontier = [h for o in frontier for h in wordnet.related(o, "hyponym", "instance_hyponym")]
    frontier = list(class_offsets)
    for _ in range(UP):  # and what they are kinds of
        frontier = [h for o in frontier for h in wordnet.related(o, "hypernym")]
        nodes.update(dict.fromkeys(frontier))
    offsets = sorted(nodes)
    relations = sorted(set(RELATIONS.values()))
    where = {o: i for i, o in enumerate(offsets)}
    triples = sorted(
        {(where[o], relations.index(name), where[t])
         for o in offsets for name, t in wordnet.relations.get(o, ()) if t in where}
    )  # fmt: skip
    return ConceptGraph(offsets, relations, torch.tensor(triples, dtype=torch.long))


@dataclass
class ConceptEmbeddings:
    graph: ConceptGraph
    entities: torch.Tensor  # (N, DIM)
    relations: torch.Tensor  # (R, DIM)
    link_prediction: dict[str, float]
    classes: dict[str, int]  # each class's (first) synset

    @property
    def wordnet(self) -> WordNet:
        return load_wordnet()

    def class_vector(self, class_name: str) -> torch.Tensor:
        return self.of(self.classes[class_name])

    def of(self, offset: int) -> torch.Tensor:
        return self.entities[self.graph.index(offset)]

    def nearest(self, offset: int, k: int = 5) -> list[tuple[int, float]]:
        """The `k` synsets whose vectors are nearest (cosine) to `offset`'s."""
        vectors = torch.nn.functional.normalize(self.entities, dim=1)
        similarity = vectors @ vectors[self.graph.index(offset)]
        order = similarity.argsort(descending=True)[1 : k + 1]
        return [(self.graph.offsets[i], float(similarity[i])) for i in order.tolist()]


def split_edges(
    triples: torch.Tensor, share: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(len(triples), generator=torch.Generator().manual_seed(seed))
    cut = int(len(triples) * share)
    return triples[order[cut:]], triples[order[:cut]]


def train_transe(
    graph: ConceptGraph, triples: torch.Tensor, dim: int = DIM, epochs: int = EPOCHS,
    seed: int = SEED,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """TransE: entity and relation vectors with ||e_h + r - e_t|| small for true triples and a
    margin larger for corrupted ones (head or tail replaced by a random synset)."""
    generator = torch.Generator().manual_seed(seed)
    bound = 6 / math.sqrt(dim)  # the paper's uniform initialisation
    entities = (torch.rand(len(graph.offsets), dim, generator=generator) * 2 - 1) * bound
    relations = (torch.rand(len(graph.relations), dim, generator=generator) * 2 - 1) * bound
    relations = torch.nn.functional.normalize(relations, dim=1)
    entities.requires_grad_(True)
    relations.requires_grad_(True)
    optimizer = torch.optim.Adam([entities, relations], lr=0.01)
    for _ in range(epochs):
        with torch.no_grad():
            entities.data = torch.nn.functional.normalize(entities.data, dim=1)
        head, rel, tail = triples.unbind(1)
        corrupt = torch.randint(len(graph.offsets), (len(triples),), generator=generator)
        swap_head = torch.rand(len(triples), generator=generator) < 0.5
        bad_head = torch.where(swap_head, corrupt, head)
        bad_tail = torch.where(swap_head, tail, corrupt)
        good = (entities[head] + relations[rel] - entities[tail]).norm(dim=1)
        bad = (entities[bad_head] + relations[rel] - entities[bad_tail]).norm(dim=1)
        loss = torch.relu(MARGIN + good - bad).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.nn.functional.normalize(entities.detach(), dim=1), relations.detach()


def link_prediction(entities, relations, test: torch.Tensor, known: torch.Tensor) -> dict:
    """Filtered ranks of each test triple's tail among all synsets: MRR and Hits@10, beside the
    expected MRR of a random ranking."""
    known_tails: dict[tuple[int, int], set[int]] = {}
    for h, r, t in known.tolist():
        known_tails.setdefault((h, r), set()).add(t)
    ranks = []
    for h, r, t in test.tolist():
        distance = (entities[h] + relations[r] - entities).norm(dim=1)
        others = known_tails.get((h, r), set()) - {t}
        if others:
            distance[list(others)] = float("inf")  # filtered: other true tails don't count
        ranks.append(int((distance < distance[t]).sum()) + 1)
    ranks_t = torch.tensor(ranks, dtype=torch.float64)
    n = len(entities)
    random_mrr = float(sum(1 / k for k in range(1, n + 1)) / n)
    return {
        "mrr": float((1 / ranks_t).mean()) if ranks else 0.0,
        "hits_at_10": float((ranks_t <= 10).double().mean()) if ranks else 0.0,
        "random_mrr": random_mrr,
        "random_hits_at_10": min(1.0, 10 / n),
        "test_edges": len(ranks),
        "synsets": n,
    }


@functools.cache
def concepts_of(class_synsets: tuple[tuple[str, tuple[str, ...]], ...]) -> ConceptEmbeddings:
    """`load_or_train_concepts`, once per process (keyed by the frozen class table)."""
    return load_or_train_concepts({c: list(names) for c, names in class_synsets})


def concepts_for_dataset(dataset: str, class_names: list[str]) -> ConceptEmbeddings:
    """The concept embeddings around a dataset's classes (reviewed synsets, or looked up)."""
    from knowgen.knowledge.grounding import class_synsets_for

    table, problems = class_synsets_for(dataset, class_names)
    for problem in problems:
        log.warning("concept classes: %s", problem)
    missing = [c for c in class_names if c not in table]
    if missing:
        raise ValueError(f"classes {missing} have no WordNet synset; pin them in classes.toml")
    return concepts_of(tuple((c, tuple(table[c])) for c in class_names))


def load_or_train_concepts(class_synsets: dict[str, list[str]]) -> ConceptEmbeddings:
    """The concept embeddings of a dataset's classes' subgraph, trained once (seconds) and read
    from `$KNOWGEN_CACHE/concepts/` afterwards."""
    wordnet = load_wordnet()
    class_offsets = sorted({wordnet.offset(n) for names in class_synsets.values() for n in names})
    graph = concept_graph(class_offsets, wordnet)
    firsts = {c: wordnet.offset(names[0]) for c, names in class_synsets.items()}
    recipe = f"{DEPTH}-{UP}-{DIM}-{EPOCHS}-{MARGIN}-{HELD_OUT}-{SEED}-{len(graph.triples)}"
    key = hashlib.sha256(f"{class_offsets}|{recipe}".encode()).hexdigest()[:16]
    path = cache_dir("concepts") / f"transe-{key}.safetensors"

    def read(path: Path) -> ConceptEmbeddings:
        saved = read_tensors(path)
        scores = {k.removeprefix("score_"): float(v) for k, v in saved.items()
                  if k.startswith("score_")}  # fmt: skip
        return ConceptEmbeddings(graph, saved["entities"], saved["relations"], scores, firsts)

    def build() -> ConceptEmbeddings:
        train, test = split_edges(graph.triples, HELD_OUT, SEED)
        entities, relations = train_transe(graph, train)
        scores = link_prediction(entities, relations, test, graph.triples)
        log.info(
            "concept embeddings: %d synsets, %d edges; held-out MRR %.3f (random %.4f)",
            len(graph.offsets), len(graph.triples), scores["mrr"], scores["random_mrr"],
        )  # fmt: skip
        stored = {"entities": entities, "relations": relations}
        stored |= {f"score_{k}": torch.tensor(float(v)) for k, v in scores.items()}
        write_tensors(path, stored)
        return ConceptEmbeddings(graph, entities, relations, scores, firsts)

    return cached(path, read, build, "concept embedding")
