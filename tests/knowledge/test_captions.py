"""Caption banks, captions files, and how training draws captions (no language model needed)."""

import json

import pytest
import torch

from knowgen.knowledge.captions import (
    ADJECTIVES,
    HELD_OUT_TEMPLATES,
    SYNONYMS,
    TEMPLATES,
    class_caption_bank,
    file_caption_bank,
    noun_phrase,
    read_captions_file,
)
from knowgen.knowledge.text import TextConditions

FASHION = list(SYNONYMS["fashion-mnist"])


def test_noun_phrases_take_the_right_article():
    assert noun_phrase("", "ankle boot") == "an ankle boot"
    assert noun_phrase("plain", "ankle boot") == "a plain ankle boot"
    assert noun_phrase("dark", "pair of trousers") == "a pair of dark trousers"


def test_held_out_phrasings_never_reach_training():
    bank = class_caption_bank(FASHION, "fashion-mnist")
    train = {c for c, h in zip(bank.captions, bank.held_out.tolist(), strict=True) if not h}
    held = {c for c, h in zip(bank.captions, bank.held_out.tolist(), strict=True) if h}
    assert len(set(bank.captions)) == len(bank.captions)  # no caption twice
    phrasings = lambda nouns, templates: {  # noqa: E731
        t.format(np=noun_phrase(a, n)) for n in nouns for t in templates for a in ADJECTIVES
    }
    unseen_templates = TEMPLATES[-HELD_OUT_TEMPLATES:]
    for nouns in SYNONYMS["fashion-mnist"].values():
        assert phrasings(nouns[-1:], TEMPLATES) <= held  # the unseen word, in every template
        assert phrasings(nouns, unseen_templates) <= held  # every word, in unseen templates
        assert not phrasings(nouns[-1:], TEMPLATES) & train
    assert len(train) + len(held) == len(bank.captions)
    # every class keeps training and held-out phrasings
    for c in range(len(FASHION)):
        assert bank.ids(c) and bank.ids(c, held_out=True)


def test_unknown_class_names_still_get_captions():
    bank = class_caption_bank(["red_car", "tree"], "folder")
    assert any("red car" in c for c in bank.captions)
    assert bank.ids(0) and bank.ids(1, held_out=True)


def make_conditions(bank):
    pooled = torch.nn.functional.one_hot(torch.arange(len(bank.captions))).float()
    return TextConditions(bank, pooled)


def test_draws_respect_groups_and_the_held_out_split():
    torch.manual_seed(0)
    bank = class_caption_bank(FASHION, "fashion-mnist")
    text = make_conditions(bank)
    labels = torch.arange(2000) % 10
    ids = text.draw(labels)
    assert torch.equal(bank.group_of[ids], labels)
    assert not bank.held_out[ids].any()
    real = text.for_real(labels)
    assert torch.equal(real["class"], labels)  # carried for an ACGAN head, never given to G
    fake_classes = text.for_fake(5000)["class"]
    assert torch.bincount(fake_classes, minlength=10).min() > 400  # uniform over classes


def test_mismatched_captions_always_describe_another_class():
    torch.manual_seed(0)
    text = make_conditions(class_caption_bank(FASHION, "fashion-mnist"))
    labels = torch.arange(3000) % 10
    wrong = text.mismatched(labels)["class"]
    assert (wrong != labels).all()
    # every other class is used: the negatives are not one fixed shift
    assert len(set(wrong[labels == 0].tolist())) == 9


def test_for_classes_is_seeded_and_uses_the_split_asked_for():
    bank = class_caption_bank(FASHION, "fashion-mnist")
    text = make_conditions(bank)
    classes = torch.arange(50) % 10
    a = text.for_classes(classes, held_out=True, seed=3)["text"].argmax(1)
    b = text.for_classes(classes, held_out=True, seed=3)["text"].argmax(1)
    assert torch.equal(a, b) and bank.held_out[a].all()
    assert torch.equal(bank.group_of[a], classes)


def test_captions_file_csv_and_jsonl(tmp_path):
    files = ["a.png", "sub/b.png", "c.png"]
    csv_file = tmp_path / "captions.csv"
    csv_file.write_text(
        'path,caption\na.png,a red ball\nsub/b.png,"a cat, sleeping"\na.png,a ball\n'
    )
    assert read_captions_file(csv_file, files) == {
        0: ["a red ball", "a ball"],
        1: ["a cat, sleeping"],
    }
    jsonl = tmp_path / "captions.jsonl"
    jsonl.write_text("\n".join(json.dumps({"path": p, "caption": f"img {p}"}) for p in files))
    per_image = read_captions_file(jsonl, files)
    bank = file_caption_bank(per_image, None)
    assert bank.num_groups == 3 and not bank.groups_are_classes and (bank.caption_class == -1).all()


def test_bad_caption_rows_are_reported_by_line(tmp_path):
    bad = tmp_path / "captions.csv"
    bad.write_text("path,caption\na.png,fine\nmissing.png,a dog\nb.png,\nonlyonecolumn\n")
    with pytest.raises(ValueError) as err:
        read_captions_file(bad, ["a.png", "b.png"])
    message = str(err.value)
    assert "3 bad row(s)" in message
    assert "line 3: 'missing.png' is not an image" in message
    assert "line 4: empty caption" in message and "line 5: expected 2 columns" in message
    broken = tmp_path / "captions.jsonl"
    broken.write_text('{"path": "a.png", "caption": "ok"}\n{not json\n')
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        read_captions_file(broken, ["a.png"])
    with pytest.raises(FileNotFoundError):
        read_captions_file(tmp_path / "nope.csv", ["a.png"])
    with pytest.raises(ValueError, match="header"):
        (tmp_path / "h.csv").write_text("file,text\na.png,x\n")
        read_captions_file(tmp_path / "h.csv", ["a.png"])
