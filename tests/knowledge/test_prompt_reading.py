"""What a text model reads a prompt as: the nearest training phrasing (the anchor), the class it
reached and how sure; and the held-out prompt file the benchmark judges with."""

import csv
import re
from pathlib import Path

import pytest
import torch

from knowgen.knowledge.captions import SYNONYMS, class_caption_bank
from knowgen.knowledge.prompt_reading import CaptionAnchor, ranked_classes

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = sorted((ROOT / "benchmarks" / "prompts").glob("fashion-heldout*.csv"))


def toy_anchor() -> CaptionAnchor:
    """Four training phrasings of two classes, at known directions."""
    pooled = torch.tensor([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1.0, 0], [0, 0.8, 0.6]])
    return CaptionAnchor(["a", "b", "c", "d"], pooled, torch.tensor([0, 0, 1, 1]), ["x", "y"])


def test_a_prompt_is_anchored_to_its_nearest_training_phrasing():
    anchor = toy_anchor()
    prompts = torch.tensor([[2.0, 0.1, 0], [0.1, 0.5, 0.5]])  # length does not matter: cosine
    cosine, index = anchor.cosines(prompts).max(1)
    assert index.tolist() == [0, 3]
    assert 0.99 < float(cosine[0]) <= 1.0
    assert torch.equal(anchor.anchor(prompts), anchor.pooled[[0, 3]])


def test_the_class_reached_is_a_probability_led_by_the_nearest_phrasings_class():
    anchor = toy_anchor()
    p = anchor.class_probabilities(anchor.cosines(torch.tensor([[2.0, 0.1, 0], [0.5, 0.5, 0]])))
    assert torch.allclose(p.sum(1), torch.ones(2))
    assert p[0].argmax() == 0 and p[0, 0] > 0.99  # far nearer one class: sure
    assert p[1].max() < 0.95  # between the two: less sure
    ranked = ranked_classes(p[0], anchor.class_names)
    assert ranked["class_name"] == "x" and ranked["runner_up"] == "y"


def test_only_training_phrasings_are_anchors():
    from knowgen.knowledge.text import TextConditions

    names = ["t-shirt", "trouser"]
    bank = class_caption_bank(names, "fashion-mnist")
    pooled = torch.randn(len(bank.captions), 5)
    anchor = CaptionAnchor.of_conditions(TextConditions(bank, pooled), names)
    held = {c for c, h in zip(bank.captions, bank.held_out.tolist(), strict=True) if h}
    assert held and not held & set(anchor.captions)
    assert len(anchor.captions) == int((~bank.held_out).sum())


def heldout_prompts(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("path", HELDOUT, ids=lambda p: p.stem)
def test_the_heldout_prompts_cover_every_class_in_words_no_caption_uses(path):
    rows = heldout_prompts(path)
    classes = list(SYNONYMS["fashion-mnist"])
    assert len(rows) >= 20
    assert {r["class"] for r in rows} == set(classes)
    bank = class_caption_bank(classes, "fashion-mnist")
    nouns = {noun.removeprefix("pair of ") for nouns in SYNONYMS["fashion-mnist"].values()
             for noun in nouns}  # fmt: skip
    vocabulary = {w for caption in bank.captions for w in re.findall(r"[a-z'-]+", caption)}
    for row in rows:
        prompt = row["prompt"].lower()
        assert prompt not in bank.captions
        named = [n for n in nouns if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", prompt)]
        assert not named, f"{prompt!r} names its class by the caption noun {named}"
        assert set(re.findall(r"[a-z'-]+", prompt)) - vocabulary, prompt


def test_nothing_in_the_package_reads_the_heldout_prompts():
    for path in (ROOT / "knowgen").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".toml", ".json"):
            assert "fashion-heldout" not in path.read_text(encoding="utf-8"), path


def test_a_model_without_text_says_read_text_is_for_text_models(tmp_path):
    import knowgen
    from knowgen.config import resolve_config
    from knowgen.knowledge.kinds import KnowledgeError
    from knowgen.train.loop import train
    from tests.conftest import TINY

    train(resolve_config("dcgan", [*TINY, "train.steps=2"]), tmp_path / "run")
    with pytest.raises(KnowledgeError, match="read_text needs a text model"):
        knowgen.load(tmp_path / "run").read_text("a frock")
