"""Text conditioning benchmark: caption embedding speed, and what a text generator obeys.

1. Speed: the packaged all-MiniLM-L6-v2 loaded once, then 1,000 distinct prompts embedded (median
   of --repeats rounds, new prompts each round), and the same 1,000 read back from the cache.
2. The language model's own ceiling: each held-out phrasing assigned to the class whose training
   phrasings' mean embedding is nearest (no generator involved).
3. Quality: the `text` preset trained for --minutes of CPU time on Fashion-MNIST, then 10,000
   samples asked for every class equally often in training phrasings and in held-out phrasings
   (words and templates G and D never saw); evaluator accuracy for the class described, and FID.

    python benchmarks/text.py --minutes 10 --write-docs
    python benchmarks/text.py --speed-only
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.probe import timed_settings  # noqa: E402

RESULTS = Path("benchmarks/results/text")
DOCS = Path("docs")
DOC_PROMPTS = [  # seen and unseen words; the last four are never in the caption bank at all
    "a photo of a sneaker",
    "a pair of jeans",
    "a frock",
    "i would like a jumper",
    "a bootie",
    "draw me a purse",
    "a pair of running shoes",
    "a long evening gown",
    "a leather handbag",
    "warm winter boots",
]


def speed(repeats: int) -> dict[str, float]:
    from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

    start = time.perf_counter()
    embedder = SentenceEmbedder()
    embedder.model  # noqa: B018 - load now, to time it apart from embedding
    load_s = time.perf_counter() - start
    rounds, cached = [], []
    nonce = uuid.uuid4().hex[:8]  # new prompts every run: earlier runs cached theirs
    for r in range(repeats):
        prompts = [f"a photo of item {i} number {r}, a plain garment {nonce}" for i in range(1000)]
        start = time.perf_counter()
        cached_embeddings(embedder, prompts)
        rounds.append(time.perf_counter() - start)
        start = time.perf_counter()
        cached_embeddings(embedder, prompts)
        cached.append(time.perf_counter() - start)
    return {
        "model_load_s": load_s,
        "embed_1000_s_median": statistics.median(rounds),
        "embed_1000_s_rounds": rounds,
        "cached_1000_s_median": statistics.median(cached),
    }


def language_ceiling() -> dict[str, float]:
    """How well the language model alone tells the classes of held-out phrasings apart: nearest
    class centroid of the training phrasings, and a logistic regression fitted on them (what a
    perfect linear read-out of the embedding could do), split into unseen words and frames."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from knowgen.data.datasets import FASHION_MNIST_CLASSES
    from knowgen.knowledge.captions import class_caption_bank
    from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

    bank = class_caption_bank(list(FASHION_MNIST_CLASSES), "fashion-mnist")
    pooled = cached_embeddings(SentenceEmbedder(), bank.captions)["pooled"]
    centroids = torch.stack([pooled[bank.ids(c)].mean(0) for c in range(bank.num_groups)])
    held = bank.held_out.nonzero().flatten()
    trained = (~bank.held_out).nonzero().flatten()
    labels = bank.group_of
    nearest = (pooled[held] @ centroids.T).argmax(1)
    readout = LogisticRegression(max_iter=2000).fit(
        pooled[trained].numpy(), labels[trained].numpy()
    )
    predicted = torch.from_numpy(readout.predict(pooled[held].numpy()))
    word = bank.unseen_word[held]
    correct = predicted == labels[held]
    return {
        "centroid_heldout": float((nearest == labels[held]).double().mean()),
        "linear_heldout": float(correct.double().mean()),
        "linear_unseen_words": float(correct[word].double().mean()),
        "linear_unseen_frames": float(correct[~word].double().mean()),
    }


def quality(minutes: float, num_samples: int) -> dict:
    import knowgen
    from knowgen.config import resolve_config
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.train.loop import train

    cfg = resolve_config("text", timed_settings(minutes))
    run_dir = RESULTS / "text"
    state = train(cfg, run_dir, overwrite=True)
    eval_cfg = replace(cfg.eval, num_samples=num_samples)
    generator = knowgen.load(run_dir)
    scores = evaluate_generator(generator, cfg.data, eval_cfg, text=state.conditioning.text)
    keys = [
        "conditional_accuracy",
        "heldout_conditional_accuracy",
        "heldout_word_accuracy",
        "heldout_template_accuracy",
        "heldout_word_accuracy_grounded",
        "heldout_template_accuracy_grounded",
        "fid",
        "heldout_fid",
        "precision",
        "recall",
        "per_class_accuracy",
        "heldout_per_class_accuracy",
    ]
    return {"run": str(run_dir), "minutes": minutes, "step": state.step} | {
        k: scores.get(k) for k in keys
    }


def write_prompt_picture(run_dir: Path) -> Path:
    import knowgen
    from knowgen.cli.sample import knowledge_options, write_rows

    generator = knowgen.load(run_dir)
    out = DOCS / "images" / "text-prompts.png"
    write_rows(generator, knowledge_options([], [], [], DOC_PROMPTS, []), [], 10, 0, out, None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    timing = speed(args.repeats)
    print(json.dumps(timing), flush=True)
    ceiling = language_ceiling()
    print(json.dumps({"language_model_alone": ceiling}), flush=True)
    if args.speed_only:
        return
    report = quality(args.minutes, args.num_samples)
    print(json.dumps(report), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    row = {**timing, **{f"language_{k}": v for k, v in ceiling.items()}, **report}
    row["embed_1000_s_rounds"] = " ".join(f"{s:.2f}" for s in timing["embed_1000_s_rounds"])
    for key in ("per_class_accuracy", "heldout_per_class_accuracy"):
        row[key] = " ".join(f"{v:.3f}" for v in report[key])
    paths = [RESULTS / "text.csv"] + ([DOCS / "text.csv"] if args.write_docs else [])
    for path in paths:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
    if args.write_docs:
        picture = write_prompt_picture(Path(report["run"]))
        command = "python benchmarks/text.py " + " ".join(sys.argv[1:])
        body = "\n".join(
            [
                f"Machine: {describe_machine()}.",
                "",
                f"Command: `{command}`. One training run (one seed): its spread over seeds is "
                "measured for the unseen-word figures only (docs/knowledge-graph.md).",
                "",
                "| figure | value |",
                "| --- | ---: |",
                f"| model load (once per process) | {timing['model_load_s']:.1f} s |",
                f"| 1,000 new prompts embedded (median of {args.repeats}) "
                f"| {timing['embed_1000_s_median']:.2f} s |",
                f"| the same 1,000 read from the cache | {timing['cached_1000_s_median']:.3f} s |",
                "| language model alone, held-out phrasings: nearest class centroid / "
                f"linear read-out | {100 * ceiling['centroid_heldout']:.2f}% / "
                f"{100 * ceiling['linear_heldout']:.2f}% |",
                "| ... linear read-out on unseen words / unseen frames | "
                f"{100 * ceiling['linear_unseen_words']:.2f}% / "
                f"{100 * ceiling['linear_unseen_frames']:.2f}% |",
                f"| `text` preset: minutes / steps | {args.minutes:g} / {report['step']} |",
                f"| evaluator accuracy, training phrasings | "
                f"{100 * report['conditional_accuracy']:.2f}% |",
                f"| evaluator accuracy, held-out phrasings | "
                f"{100 * report['heldout_conditional_accuracy']:.2f}% |",
                "| ... on unseen words / unseen frames | "
                f"{100 * report['heldout_word_accuracy']:.2f}% / "
                f"{100 * report['heldout_template_accuracy']:.2f}% |",
                "| ... the same prompts grounded in WordNet first: unseen words / unseen frames | "
                f"{100 * (report['heldout_word_accuracy_grounded'] or 0):.2f}% / "
                f"{100 * (report['heldout_template_accuracy_grounded'] or 0):.2f}% |",
                f"| FID, training / held-out phrasings | {report['fid']:.1f} / "
                f"{report['heldout_fid']:.1f} |",
                "",
                f"Samples ({args.num_samples:,}) ask for every class equally often; FID in the "
                "evaluator's feature space against the test split. Per-class accuracy (training "
                "phrasings): "
                + row["per_class_accuracy"]
                + "; held-out: "
                + row["heldout_per_class_accuracy"]
                + ".",
                "",
                f"![prompts]({picture.relative_to(DOCS)})",
                "",
            ]
        )
        write_section("docs/benchmarks.md", "Text conditioning", body)
        print(f"wrote {picture} and the docs section")


if __name__ == "__main__":
    main()
