"""Captions for text-conditioned training: generated per class, or read from a captions file.

A labelled dataset gets a caption bank per class: synonyms x templates x adjectives, many
phrasings of the same object. Some phrasings are *held out*, never shown to G or D, so that an
evaluation can ask whether the language model's knowledge transfers to words the generator never
saw: for every class its last synonym (with every template) and the last quarter of the templates
(with every synonym). A `folder` dataset instead names its captions in a CSV or JSONL file (path,
caption; several rows per image allowed).

Captions are grouped: a group is a class (caption banks) or an image (captions files). Training
draws a caption of an image's own group for the real image, of a random group for a generated
one, and of another group for the matching-aware negative.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch

# Noun phrases per class; the LAST synonym of each list is held out of training.
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "fashion-mnist": {
        "t-shirt": ["t-shirt", "tee", "short-sleeved top", "crew-neck top", "tee shirt"],
        "trouser": ["pair of trousers", "pair of pants", "pair of jeans", "pair of slacks"],
        "pullover": ["pullover", "sweater", "knitted sweater", "sweatshirt", "jumper"],
        "dress": ["dress", "gown", "sundress", "evening dress", "frock"],
        "coat": ["coat", "jacket", "winter coat", "parka", "overcoat"],
        "sandal": ["sandal", "strappy sandal", "open-toed shoe", "summer sandal", "flip-flop"],
        "shirt": ["shirt", "long-sleeved shirt", "collared shirt", "blouse", "button-down"],
        "sneaker": ["sneaker", "running shoe", "trainer", "athletic shoe", "tennis shoe"],
        "bag": ["bag", "handbag", "tote bag", "shoulder bag", "purse"],
        "ankle-boot": ["ankle boot", "boot", "short boot", "chelsea boot", "bootie"],
    },
    "digits": {
        str(d): [f"digit {d}", f"number {d}", f"handwritten {d}", word, f"numeral {d}"]
        for d, word in enumerate(
            ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        )
    },
}

# "{np}" is the noun phrase with its article; the last quarter is held out of training.
TEMPLATES = [
    "{np}",
    "a photo of {np}",
    "an image of {np}",
    "a picture of {np}",
    "this is {np}",
    "{np} on a black background",
    "a product photo of {np}",
    "a grayscale photo of {np}",
    "a close-up of {np}",
    "{np}, seen from the front",
    "a small picture of {np}",
    "here is {np}",
    "i would like {np}",
    "draw me {np}",
    "there is {np} in this picture",
    "a low-resolution image of {np}",
]
ADJECTIVES = ["", "plain", "simple", "dark", "light", "classic"]
HELD_OUT_TEMPLATES = len(TEMPLATES) // 4


def noun_phrase(adjective: str, noun: str) -> str:
    """'a plain sweater', 'an ankle boot', 'a pair of dark trousers'."""
    if noun.startswith("pair of "):
        rest = noun.removeprefix("pair of ")
        return f"a pair of {adjective} {rest}" if adjective else f"a pair of {rest}"
    words = f"{adjective} {noun}" if adjective else noun
    article = "an" if words[0] in "aeiou" else "a"
    return f"{article} {words}"


@dataclass
class CaptionBank:
    """Every caption of a dataset, which group each belongs to and which may be trained on.

    `group_of[i]` is caption i's group (a class or an image); `caption_class[i]` its class (-1 when
    unknown); `held_out[i]` marks phrasings kept for evaluation.
    """

    captions: list[str]
    group_of: torch.Tensor  # (N,) int64
    caption_class: torch.Tensor  # (N,) int64, -1 = no class
    held_out: torch.Tensor  # (N,) bool
    num_groups: int
    groups_are_classes: bool
    unseen_word: torch.Tensor | None = None  # (N,) bool: held out for a word never trained on

    def __post_init__(self) -> None:
        n = len(self.captions)
        if self.unseen_word is None:
            self.unseen_word = torch.zeros(n, dtype=torch.bool)
        fields = (self.group_of, self.caption_class, self.held_out, self.unseen_word)
        if any(len(f) != n for f in fields):
            raise ValueError("caption bank fields must all have one entry per caption")
        trained = torch.bincount(self.group_of[~self.held_out], minlength=self.num_groups)
        if n == 0 or bool((trained == 0).any()):
            raise ValueError("every class or image needs at least one training caption")

    def ids(self, group: int, held_out: bool = False) -> list[int]:
        """Caption indices of one group, from the training or the held-out phrasings."""
        mask = (self.group_of == group) & (self.held_out == held_out)
        return mask.nonzero().flatten().tolist()


def class_caption_bank(class_names: list[str], dataset: str) -> CaptionBank:
    """A caption bank for a labelled dataset. Classes without a synonym list (e.g. a folder's
    class sub-folders) use their own name, with held-out templates only."""
    known = SYNONYMS.get(dataset, {})
    train_templates = TEMPLATES[: len(TEMPLATES) - HELD_OUT_TEMPLATES]
    captions, group_of, held_out, unseen_words = [], [], [], []
    for c, name in enumerate(class_names):
        nouns = known.get(name, [name.replace("_", " ").replace("-", " ")])
        for s, noun in enumerate(nouns):
            for template in TEMPLATES:
                for adjective in ADJECTIVES:
                    text = template.format(np=noun_phrase(adjective, noun))
                    captions.append(text)
                    group_of.append(c)
                    unseen_word = len(nouns) > 1 and s == len(nouns) - 1
                    held_out.append(unseen_word or template not in train_templates)
                    unseen_words.append(unseen_word)
    groups = torch.tensor(group_of, dtype=torch.int64)
    return CaptionBank(
        captions,
        groups,
        groups.clone(),
        torch.tensor(held_out),
        len(class_names),
        True,
        torch.tensor(unseen_words),
    )


MAX_CAPTION_FIELD = 1 << 20  # a caption of a megabyte is a broken file, not a description


def _csv_rows(reader, path: Path):
    """(line number, row) of a CSV body; a malformed row is an error naming its line."""
    line_no = 1
    while True:
        line_no += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ValueError(f"{path}: line {line_no} is not valid CSV ({err})") from None
        yield line_no, row


def read_captions_file(path: Path, image_files: list[str]) -> dict[int, list[str]]:
    """{image index: captions} from a CSV (header `path,caption`) or JSONL file (`{"path": ...,
    "caption": ...}` per line); paths are relative to the image folder. Every bad row is
    reported with its line number, all at once."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"captions file {str(path)!r} does not exist")
    index = {name: i for i, name in enumerate(image_files)}
    rows: list[tuple[int, object, object]] = []
    errors: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if path.suffix.lower() in (".jsonl", ".json"):
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                errors.append(f"line {line_no}: not valid JSON ({err.msg})")
                continue
            if not isinstance(record, dict):
                errors.append(f"line {line_no}: expected an object with 'path' and 'caption'")
                continue
            rows.append((line_no, record.get("path"), record.get("caption")))
    elif path.suffix.lower() == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), MAX_CAPTION_FIELD))
        reader = csv.reader(text.splitlines())
        try:
            header = [h.strip().lower() for h in next(reader, [])]
        except csv.Error as err:
            raise ValueError(f"{path}: line 1 is not valid CSV ({err})") from None
        if "path" not in header or "caption" not in header:
            raise ValueError(f"{path}: line 1 must be a header naming 'path' and 'caption'")
        p, c = header.index("path"), header.index("caption")
        for line_no, row in _csv_rows(reader, path):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(p, c):
                errors.append(f"line {line_no}: expected {len(header)} columns, got {len(row)}")
                continue
            rows.append((line_no, row[p], row[c]))
    else:
        raise ValueError(f"{path}: captions must be a .csv or .jsonl file")
    captions: dict[int, list[str]] = {}
    for line_no, image, caption in rows:
        if not isinstance(image, str) or not image.strip():
            errors.append(f"line {line_no}: missing image path")
        elif not isinstance(caption, str) or not caption.strip():
            errors.append(f"line {line_no}: empty caption for {image!r}")
        elif image.strip() not in index:
            errors.append(f"line {line_no}: {image!r} is not an image of the dataset")
        else:
            captions.setdefault(index[image.strip()], []).append(caption.strip())
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise ValueError(f"{path}: {len(errors)} bad row(s):\n  {shown}{more}")
    return captions


def file_caption_bank(per_image: dict[int, list[str]], labels: torch.Tensor | None) -> CaptionBank:
    """A caption bank whose groups are images (0..N-1, every one captioned), nothing held out."""
    captions, group_of = [], []
    for image in sorted(per_image):
        for caption in per_image[image]:
            captions.append(caption)
            group_of.append(image)
    groups = torch.tensor(group_of, dtype=torch.int64)
    classes = labels[groups] if labels is not None else torch.full_like(groups, -1)
    held_out = torch.zeros(len(captions), dtype=torch.bool)
    return CaptionBank(captions, groups, classes, held_out, len(per_image), False)
