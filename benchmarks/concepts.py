"""WordNet concept embeddings and grounding, measured.

    python benchmarks/concepts.py [--seeds 3] [--write-docs]

1. Link prediction: TransE over the subgraph around Fashion-MNIST's classes, trained with
   `--seeds` different edge splits and initialisations; filtered MRR and Hits@10 of held-out
   edges beside a random ranking's (median and range over seeds), and nearest neighbours.
2. Grounding: every lemma of every kind of a class synset (WordNet's own words, chosen by rule)
   that the caption bank never uses, grounded back to a class: how often the class is right.
   These words are not hand-picked; only the class -> synset table is written by hand.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from knowgen.knowledge import concepts as concept_module  # noqa: E402
from knowgen.knowledge.captions import SYNONYMS  # noqa: E402
from knowgen.knowledge.grounding import CLASS_SYNSETS, WORD, Grounder  # noqa: E402
from knowgen.knowledge.wordnet import load_wordnet  # noqa: E402


def link_prediction(seeds: int) -> tuple[list[dict], object]:
    wordnet = load_wordnet()
    table = CLASS_SYNSETS["fashion-mnist"]
    offsets = sorted({wordnet.offset(n) for names in table.values() for n in names})
    graph = concept_module.concept_graph(offsets, wordnet)
    rows, last = [], None
    for seed in range(seeds):
        train, test = concept_module.split_edges(graph.triples, concept_module.HELD_OUT, seed)
        entities, relations = concept_module.train_transe(graph, train, seed=seed)
        rows.append(concept_module.link_prediction(entities, relations, test, graph.triples))
        firsts = {c: wordnet.offset(n[0]) for c, n in table.items()}
        last = concept_module.ConceptEmbeddings(graph, entities, relations, rows[-1], firsts)
    return rows, last


def wordnet_lemmas_split() -> dict:
    """Every lemma of every kind (down 4 levels) of each class synset, minus the words of the
    caption bank (training and held-out): WordNet's words for the class that the bank never
    uses. Grounded back: how often to the right class."""
    wordnet = load_wordnet()
    table = CLASS_SYNSETS["fashion-mnist"]
    grounder = Grounder(table, wordnet)
    bank_words = {w for nouns in SYNONYMS["fashion-mnist"].values() for n in nouns
                  for w in WORD.findall(n.lower())}  # fmt: skip
    right = total = grounded = 0
    examples, pairs = [], []
    for class_name, reach in grounder.reach.items():
        for offset in reach:
            for lemma in wordnet.lemmas[offset]:
                word = lemma.lower()
                if set(WORD.findall(word.replace("_", " "))) & bank_words:
                    continue
                result = grounder.ground(word)
                total += 1
                pairs.append((word, class_name))
                grounded += result.class_name is not None
                right += result.class_name == class_name
                if result.class_name not in (None, class_name) and len(examples) < 5:
                    examples.append(f"{word} -> {result.class_name} (listed under {class_name})")
    return {"lemmas": total, "grounded": grounded, "right_class": right, "confusions": examples,
            "pairs": sorted(set(pairs))}  # fmt: skip


def generated_accuracy(run: Path, pairs: list[tuple[str, str]], per_word: int = 4) -> dict:
    """A trained text model asked for "a photo of a WORD" for each WordNet lemma of the split,
    with and without grounding: how often the evaluator sees the class the word belongs to."""
    import torch

    import knowgen
    from knowgen.data import DataConfig
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features
    from knowgen.sampling import Generator

    grounded = knowgen.load(run)
    meta = grounded.meta | {"knowledge": dict(grounded.meta["knowledge"], ground_text=False)}
    plain = Generator(grounded.network, meta)
    evaluator = load_or_train_evaluator(DataConfig(name="fashion-mnist"))
    names = grounded.class_names
    prompts = [f"a photo of a {w.replace('_', ' ')}" for w, _ in pairs for _ in range(per_word)]
    truth = torch.tensor([names.index(c) for _, c in pairs for _ in range(per_word)])
    out = {}
    for label, generator in (("encoder alone", plain), ("with grounding", grounded)):
        images = generator.sample(len(prompts), 0, text=prompts).images
        predicted = extract_features(evaluator, images).logits.argmax(1)
        out[label] = float((predicted == truth).double().mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--run", type=Path, help="a trained text run to ask for the lemmas")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    rows, embeddings = link_prediction(args.seeds)
    for row in rows:
        print(row, flush=True)

    def spread(key: str) -> str:
        values = [r[key] for r in rows]
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"

    wordnet = load_wordnet()
    neighbours = []
    for name in ("dress.n.01", "gym_shoe.n.01", "coat.n.01", "bag.n.04"):
        near = embeddings.nearest(wordnet.offset(name), 4)
        neighbours.append(f"{name}: " + ", ".join(f"{wordnet.name(o)} ({s:.2f})" for o, s in near))
    split = wordnet_lemmas_split()
    print({k: v for k, v in split.items() if k != "pairs"})
    generated = generated_accuracy(args.run, split["pairs"]) if args.run else None
    print(generated)
    lines = [
        f"Graph: {rows[0]['synsets']} synsets around Fashion-MNIST's classes, "
        f"{rows[0]['test_edges']} held-out edges per split; TransE, {concept_module.DIM}-d, "
        f"{concept_module.EPOCHS} epochs; {args.seeds} seeds (split and initialisation), median "
        "(range).",
        "",
        "| link prediction (filtered) | TransE | random ranking |",
        "| --- | ---: | ---: |",
        f"| MRR | {spread('mrr')} | {rows[0]['random_mrr']:.3f} |",
        f"| Hits@10 | {spread('hits_at_10')} | {rows[0]['random_hits_at_10']:.3f} |",
        "",
        "Nearest neighbours (cosine, last seed): " + "; ".join(neighbours) + ".",
        "",
        f"Grounding of WordNet's own words for the classes (every lemma of every kind of a class "
        f"synset that the caption bank never uses, {split['lemmas']} words): "
        f"{split['grounded']} grounded, {split['right_class']} to the class they were listed "
        f"under ({100 * split['right_class'] / max(1, split['lemmas']):.1f}%). Confusions: "
        + ("; ".join(split["confusions"]) or "none") + ". (By construction every such word "
        "lies below a class synset: this counts only words that another class claims more "
        "strongly, not how well images follow them; that is the next line.)",
    ]  # fmt: skip
    if generated is not None:
        lines += ["", f"The `text` run {args.run} asked for \"a photo of a WORD\" for each of "
                  f"them (4 images per word, {len(split['pairs'])} words), judged by the "
                  "evaluator: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in generated.items())
                  + "."]  # fmt: skip
    body = f"`python benchmarks/concepts.py --seeds {args.seeds}` on {describe_machine()}.\n\n"
    body += "\n".join(lines) + "\n"
    print(body)
    if args.write_docs:
        write_section("docs/benchmarks.md", "Knowledge graph", body)


if __name__ == "__main__":
    main()
