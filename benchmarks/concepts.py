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


def generated_accuracy(run: Path, pairs: list[tuple[str, str]], per_split: int = 600) -> dict:
    """A trained text model asked for prompts of four splits (training phrasings, unseen sentence
    frames, unseen words of the caption bank, WordNet's own lemmas as "a photo of a WORD"), read
    three ways: the sentence encoder alone, the graph alone (a prompt with a grounded word
    becomes that class's caption word), and both (unseen words grounded, the rest to the
    encoder). Accuracy: how often the evaluator sees the class the prompt names."""
    import dataclasses

    import torch

    import knowgen
    from knowgen.data import DataConfig
    from knowgen.knowledge.captions import class_caption_bank
    from knowgen.knowledge.grounding import build_prompt_grounder
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features

    both = knowgen.load(run)
    names = both.class_names
    grounder = build_prompt_grounder(names, "fashion-mnist")

    def graph_only(prompt: str) -> str:
        found = grounder.grounder.ground_prompt(prompt)
        return grounder.class_words[found[0].class_name] if found else prompt

    plain = dataclasses.replace(both.context, anchor_text=None)  # the reading, not the anchor
    readers = {  # (benchmarks/text_prompts.py measures the anchor)
        "encoder alone": dataclasses.replace(plain, rewrite_text=None),
        "graph alone": dataclasses.replace(plain, rewrite_text=graph_only),
        "both": dataclasses.replace(plain, rewrite_text=grounder),
    }
    bank = class_caption_bank(names, "fashion-mnist")
    held, word = bank.held_out.tolist(), bank.unseen_word.tolist()
    splits = {
        "training phrasings": [i for i, h in enumerate(held) if not h],
        "unseen frames": [
            i for i, (h, w) in enumerate(zip(held, word, strict=True)) if h and not w
        ],
        "unseen words": [i for i, w in enumerate(word) if w],
    }
    rng = torch.Generator().manual_seed(0)
    prompts: dict[str, tuple[list[str], list[int]]] = {}
    for split, ids in splits.items():
        pick = [ids[int(j)] for j in torch.randint(len(ids), (per_split,), generator=rng)]
        prompts[split] = ([bank.captions[i] for i in pick],
                          [int(bank.group_of[i]) for i in pick])  # fmt: skip
    lemma_pick = torch.randint(len(pairs), (per_split,), generator=rng).tolist()
    lemma_texts = [f"a photo of a {pairs[j][0].replace('_', ' ')}" for j in lemma_pick]
    prompts["WordNet lemmas"] = (lemma_texts, [names.index(pairs[j][1]) for j in lemma_pick])
    evaluator = load_or_train_evaluator(DataConfig(name="fashion-mnist"))
    table: dict[str, dict[str, float]] = {}
    for split, (texts, truth) in prompts.items():
        for reader, context in readers.items():
            both.context = context
            images = both.sample(len(texts), 0, text=texts).images
            predicted = extract_features(evaluator, images).logits.argmax(1)
            right = (predicted == torch.tensor(truth)).double().mean()
            table.setdefault(split, {})[reader] = float(right)
    return table


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
        readers = list(next(iter(generated.values())))
        lines += ["", f"The `text` run `{args.run}` asked for 600 prompts of each split (the "
                  "evaluator judges whether the image shows the class the prompt names; one "
                  "generator run: the same comparison over three runs, with ranges, is in "
                  "docs/knowledge-graph.md):", "",
                  "| split | " + " | ".join(readers) + " |",
                  "| --- |" + " ---: |" * len(readers)]  # fmt: skip
        for split, row in generated.items():
            lines.append(
                f"| {split} | " + " | ".join(f"{100 * row[r]:.1f}%" for r in readers) + " |"
            )
    body = f"`python benchmarks/concepts.py --seeds {args.seeds}` on {describe_machine()}.\n\n"
    body += "\n".join(lines) + "\n"
    print(body)
    if args.write_docs:
        write_section("docs/benchmarks.md", "Knowledge graph", body)


if __name__ == "__main__":
    main()
