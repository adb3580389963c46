"""WordNet 3.0's nouns, read from the Debian package's plain database files (`wordnet-base`):
synsets, their lemmas and glosses, the typed relations between them, the morphological
exceptions, and WordNet's own lemmatiser (`morphy`). No NLTK: its reader wants a `lexnames`
file the package lacks and refuses corpus paths outside its own folders.

File formats are those of WordNet's `wndb(5WN)` page: `index.noun` lists each lemma's synset
offsets in sense order, `data.noun` one synset per line (offset, lexicographer file, type, lemma
count (hex), lemmas, pointer count, pointers `symbol offset pos source/target`, `| gloss`).
Parsed once per process (about a second for 82,115 synsets).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

WORDNET_DIRS = (Path("/usr/share/wordnet"), Path("/usr/share/wordnet/dict"))
INSTALL_HINT = "install WordNet 3.0: sudo apt-get install -y wordnet-base (or set KNOWGEN_WORDNET)"

# the noun relations kept (pointer symbols of wndb(5WN)), by the name used here
RELATIONS = {
    "@": "hypernym",
    "@i": "instance_hypernym",
    "~": "hyponym",
    "~i": "instance_hyponym",
    "#m": "member_holonym",
    "#s": "substance_holonym",
    "#p": "part_holonym",
    "%m": "member_meronym",
    "%s": "substance_meronym",
    "%p": "part_meronym",
}
# WordNet's detachment rules for nouns (morphy): suffix -> replacement, tried in order
NOUN_RULES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
              ("men", "man"), ("ies", "y"))  # fmt: skip


@dataclass
class WordNet:
    """The noun part of WordNet: synsets by byte offset in `data.noun`."""

    lemmas: dict[int, list[str]] = field(default_factory=dict)  # offset -> lemmas, in order
    gloss: dict[int, str] = field(default_factory=dict)
    relations: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    senses: dict[str, list[int]] = field(default_factory=dict)  # lemma -> offsets, sense order
    exceptions: dict[str, list[str]] = field(default_factory=dict)  # inflection -> lemmas
    adjectives: set[str] = field(default_factory=set)  # lemmas that are also adjectives

    def __len__(self) -> int:
        return len(self.lemmas)

    def morphy(self, word: str) -> list[str]:
        """The noun lemmas `word` may be a form of ("trousers" -> ["trouser", "trousers"]),
        WordNet's way: the word itself, its exceptions, then the detachment rules."""
        word = word.strip().lower().replace(" ", "_")
        found = [word] if word in self.senses else []
        found += [w for w in self.exceptions.get(word, []) if w in self.senses]
        for suffix, replacement in NOUN_RULES:
            if word.endswith(suffix) and len(word) > len(suffix):
                base = word[: len(word) - len(suffix)] + replacement
                if base in self.senses:
                    found.append(base)
        return list(dict.fromkeys(found))

    def synsets(self, word: str) -> list[int]:
        """Every noun synset of `word` (any inflection, spelled with spaces, underscores or
        hyphens: "flip flops", "flip-flop"), most frequent sense first, in a fixed order."""
        word = word.strip().lower().replace(" ", "_")
        forms = dict.fromkeys([word, word.replace("-", "_"), word.replace("_", "-"),
                               word.replace("-", "")])  # fmt: skip
        return list(dict.fromkeys(
            o for form in forms for lemma in self.morphy(form) for o in self.senses[lemma]
        ))  # fmt: skip

    def related(self, offset: int, *names: str) -> list[int]:
        return [target for name, target in self.relations.get(offset, ()) if name in names]

    def name(self, offset: int) -> str:
        """NLTK-style name of a synset: its first lemma, `n`, the sense number of that lemma."""
        lemma = self.lemmas[offset][0]
        number = self.senses.get(lemma.lower(), [offset]).index(offset) + 1
        return f"{lemma.lower()}.n.{number:02d}"

    def offset(self, name: str) -> int:
        """The synset called `name` ("dress.n.01"), or a clear error."""
        lemma, _, number = name.rpartition(".n.")
        offsets = self.senses.get(lemma.lower(), [])
        if not number.isdigit() or not 1 <= int(number) <= len(offsets):
            raise ValueError(f"no WordNet noun synset {name!r}")
        return offsets[int(number) - 1]


def find_wordnet() -> Path:
    """The folder with `data.noun` and `index.noun`: $KNOWGEN_WORDNET, then Debian's."""
    explicit = os.environ.get("KNOWGEN_WORDNET")
    candidates = [Path(explicit)] if explicit else list(WORDNET_DIRS)
    for folder in candidates:
        if (folder / "data.noun").is_file() and (folder / "index.noun").is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"WordNet 3.0 not found (looked in {looked}); {INSTALL_HINT}")


@functools.cache
def load_wordnet(folder: str | None = None) -> WordNet:
    """WordNet's nouns from `folder` (default: `find_wordnet()`), parsed once per process."""
    root = Path(folder) if folder else find_wordnet()
    wordnet = WordNet()
    try:
        _read_index(root / "index.noun", wordnet)
        _read_data(root / "data.noun", wordnet)
        if (root / "noun.exc").is_file():
            _read_exceptions(root / "noun.exc", wordnet)
        if (root / "index.adj").is_file():  # only which words may be adjectives
            wordnet.adjectives = {line.split()[0] for line in _lines(root / "index.adj")}
    except (IndexError, ValueError) as err:
        raise ValueError(f"{root}: not WordNet 3.0 noun files ({err})") from None
    return wordnet


def _lines(path: Path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line and not line.startswith(" "):  # the licence header is indented
                yield line.rstrip("\n")


def _read_index(path: Path, wordnet: WordNet) -> None:
    for line in _lines(path):
        parts = line.split()
        lemma, synset_count, pointer_count = parts[0], int(parts[2]), int(parts[3])
        offsets = parts[4 + pointer_count + 2 :]
        wordnet.senses[lemma] = [int(o) for o in offsets[:synset_count]]


def _read_data(path: Path, wordnet: WordNet) -> None:
    for line in _lines(path):
        head, _, gloss = line.partition(" | ")
        parts = head.split()
        offset, count = int(parts[0]), int(parts[3], 16)
        words = parts[4 : 4 + 2 * count : 2]
        at = 4 + 2 * count
        pointers = int(parts[at])
        relations = []
        for i in range(pointers):
            symbol, target, pos = parts[at + 1 + 4 * i : at + 4 + 4 * i]
            if pos == "n" and symbol in RELATIONS:
                relations.append((RELATIONS[symbol], int(target)))
        wordnet.lemmas[offset] = [w.split("(")[0] for w in words]  # "dress(p)" markers dropped
        wordnet.gloss[offset] = gloss.strip()
        wordnet.relations[offset] = relations


def _read_exceptions(path: Path, wordnet: WordNet) -> None:
    for line in _lines(path):
        inflected, *lemmas = line.split()
        wordnet.exceptions[inflected] = lemmas
