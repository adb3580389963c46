"""Grounding words in WordNet: which dataset class a word (or a prompt) names, and by what path
through the concept graph ("frock" -> dress.n.01 -> class dress).

Each class is linked to WordNet synsets by one reviewed table (`CLASS_SYNSETS`, the only
hand-written part) or, for a user's folder, by looking its name up (ambiguities reported, a
`classes.toml` pins them). A word is lemmatised by WordNet's morphology and mapped to all its
noun synsets; it grounds in a class when one of them *is* a class synset or a kind of one (a
hyponym, down to `MAX_EDGES` levels: a parka is a jacket is a coat). Its score is the path
similarity of WordNet's own tools, 1 / (1 + edges), discounted a little for rarer senses. A
broader word ("shoe", "garment") or a sibling ("skirt" beside "dress") does not ground: it does
not say which class.

At sampling time a text model's prompt keeps every word the caption bank trained on; a word it
never saw that grounds (one edge or less) is replaced by its class's caption word, so the frozen
sentence encoder reads a word it knows ("a light summer frock" -> "a light summer dress").
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowgen.knowledge.wordnet import WordNet, load_wordnet

log = logging.getLogger(__name__)

# Fashion-MNIST's classes -> WordNet synsets, reviewed by hand (glosses checked): the only
# table written by hand; every other word reaches a class through the graph.
CLASS_SYNSETS = {
    "fashion-mnist": {
        "t-shirt": ["jersey.n.03"],  # jersey, T-shirt, tee shirt
        "trouser": ["trouser.n.01"],  # trouser, pant
        "pullover": ["pullover.n.01", "sweater.n.01"],  # pullover, slipover; sweater, jumper
        "dress": ["dress.n.01"],  # dress, frock
        "coat": ["coat.n.01"],
        "sandal": ["sandal.n.01"],
        "shirt": ["shirt.n.01"],
        "sneaker": ["gym_shoe.n.01"],  # gym shoe, sneaker, tennis shoe
        "bag": ["bag.n.04", "bag.n.01"],  # handbag, purse; a flexible container
        "ankle-boot": ["boot.n.01"],
    },
}


def reviewed_synsets(dataset: str) -> dict[str, list[str]] | None:
    """The reviewed class -> synsets table of `dataset` (its colour variant shares it), if any."""
    return CLASS_SYNSETS.get(dataset.removesuffix("-color"))


EDGES = ("hyponym", "instance_hyponym")  # down from a class: kinds of it
MAX_EDGES = 4  # how many levels below a class the graph is searched
SENSE_DISCOUNT = 0.05  # per sense rank: the first sense is the likeliest reading
WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


@dataclass(frozen=True)
class Grounding:
    """Where a word lands: the class, the score, and the path through the graph."""

    word: str
    class_name: str | None
    score: float
    path: tuple[str, ...]  # synset names from the word's sense to the class's synset
    ties: tuple[str, ...] = ()  # classes the word reaches equally well (then it grounds in none)

    def describe(self) -> str:
        if self.ties:
            return f"{self.word}: a kind of {' and of '.join(self.ties)} alike, not grounded"
        if self.class_name is None:
            return f"{self.word}: not grounded"
        return (
            f"{self.word} -> {' -> '.join(self.path)} -> class {self.class_name} ({self.score:.2f})"
        )


class Grounder:
    """Grounds words and prompts in the classes of one dataset."""

    def __init__(self, class_synsets: dict[str, list[str]], wordnet: WordNet | None = None):
        self.wordnet = wordnet or load_wordnet()
        self.classes = {c: [self.wordnet.offset(n) for n in names]
                        for c, names in class_synsets.items()}  # fmt: skip
        # per class: distance and the next synset towards the class, from a search outwards
        self.reach = {c: self._search(offsets) for c, offsets in self.classes.items()}

    def _search(self, starts: list[int]) -> dict[int, tuple[int, int | None]]:
        reach: dict[int, tuple[int, int | None]] = {s: (0, None) for s in starts}
        queue = deque(starts)
        while queue:
            node = queue.popleft()
            distance = reach[node][0]
            if distance >= MAX_EDGES:
                continue
            for neighbour in self.wordnet.related(node, *EDGES):
                if neighbour not in reach:
                    reach[neighbour] = (distance + 1, node)
                    queue.append(neighbour)
        return reach

    def _path(self, class_name: str, offset: int) -> tuple[str, ...]:
        path, node = [], offset  # from the word's sense up to the class's synset
        while node is not None:
            path.append(self.wordnet.name(node))
            node = self.reach[class_name][node][1]
        return tuple(path)

    def scores(self, word: str) -> dict[str, float]:
        """Each class's score for `word` (0 for classes out of reach)."""
        return {c: score for c, score, _ in self._candidates(word)}

    def _candidates(self, word: str):
        senses = self._senses(word)
        for class_name, reach in self.reach.items():
            best, best_sense = 0.0, None
            for rank, offset in enumerate(senses):
                if offset in reach:
                    score = (1 - SENSE_DISCOUNT * rank) / (1 + reach[offset][0])
                    if score > best:
                        best, best_sense = score, offset
            yield class_name, best, best_sense

    def _senses(self, word: str) -> list[int]:
        return self.wordnet.synsets(word)

    def ground(self, word: str) -> Grounding:
        """The class `word` names: the best-scoring class one of its senses is a kind of. A word
        that two classes reach equally well ("turtleneck": a sweater and a jersey, one edge
        each) names neither: it is left to the sentence encoder, not decided by class order."""
        word = word.lower().strip()
        candidates = sorted(self._candidates(word), key=lambda c: -c[1])
        if not candidates or candidates[0][2] is None:
            return Grounding(word, None, 0.0, ())
        class_name, score, sense = candidates[0]
        ties = tuple(c for c, s, _ in candidates if s > 0 and abs(s - score) < 1e-9)
        if len(ties) > 1:
            return Grounding(word, None, 0.0, (), ties)
        return Grounding(word, class_name, score, self._path(class_name, sense))

    def phrases(self, prompt: str) -> list[tuple[int, int, str]]:
        """(start, end, text) of the prompt's words and two-word expressions ("ankle boot",
        "tee shirt"), longest first where they overlap."""
        words = [(m.start(), m.end(), m.group()) for m in WORD.finditer(prompt.lower())]
        found = []
        for i in range(len(words) - 1):
            (a, _, first), (_, b, second) = words[i], words[i + 1]
            if self._senses(f"{first}_{second}"):
                found.append((a, b, f"{first}_{second}"))
        covered = {i for a, b, _ in found for i in range(a, b)}
        # a word WordNet also knows as an adjective, standing before another word, modifies it
        # ("a formal white shirt"): it is not what the prompt names, and its rarer noun senses
        # (formal -> dinner dress, white -> white flannel trousers) must not ground
        modifiers = {a for a, _, w in words[:-1] if w in self.wordnet.adjectives}
        found += [(a, b, w) for a, b, w in words if a not in covered and a not in modifiers]
        return sorted(found)

    def ground_prompt(self, prompt: str) -> list[Grounding]:
        """Every grounded word or expression of `prompt`."""
        groundings = [self.ground(text) for _, _, text in self.phrases(prompt)]
        return [g for g in groundings if g.class_name is not None]

    def rewrite(
        self, prompt: str, known: set[str], class_words: dict[str, str], min_score: float = 0.0
    ) -> tuple[str, list]:
        """`prompt` with each word or expression the caption bank never used (`known`: its words
        and its adjacent word pairs joined by "_") that grounds replaced by its class's caption
        word (`class_words`); returns it and the groundings used. What the bank knows is left
        alone: a prompt the encoder understands is not touched. An expression counts as a unit:
        "tee shirt" is new even where "tee" and "shirt" are each known."""
        out, last, used = [], 0, []
        for start, end, text in self.phrases(prompt):
            if text in known:
                continue
            grounding = self.ground(text)
            if grounding.class_name is None or grounding.class_name not in class_words:
                continue
            if grounding.score < min_score or len(text) <= 2:  # "an" is also a nursing degree
                continue
            out += [prompt[last:start], class_words[grounding.class_name]]
            last = end
            used.append(grounding)
        return "".join(out) + prompt[last:], used


def class_synsets_for(
    dataset: str, class_names: list[str], pins: Path | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """{class: synset names} for a dataset: the reviewed table, or each class name looked up in
    WordNet (its first noun sense) with a `classes.toml` ({class = "synset.n.01"}) pinning any;
    a class with no noun sense, or an ambiguous one not pinned, is reported."""
    known = reviewed_synsets(dataset)
    if known is not None and set(known) == set(class_names):
        return dict(known), []
    pinned = tomllib.loads(pins.read_text(encoding="utf-8")) if pins and pins.is_file() else {}
    wordnet = load_wordnet()
    table, problems = {}, []
    for name in class_names:
        if name in pinned:
            table[name] = [str(pinned[name])]
            continue
        senses = wordnet.synsets(name.replace(" ", "_"))
        if not senses:
            problems.append(f"{name!r} is not a WordNet noun")
            continue
        if len(senses) > 1:
            choices = ", ".join(wordnet.name(s) for s in senses[:4])
            problems.append(f"{name!r} is ambiguous ({choices}): the first sense is used")
        table[name] = [wordnet.name(senses[0])]
    return table, problems


class PromptGrounder:
    """Rewrites a text model's prompts: words its caption bank never trained on that ground in a
    class become that class's caption word (see `Grounder.rewrite`)."""

    def __init__(
        self,
        grounder: Grounder,
        known: set[str],
        class_words: dict[str, str],
        min_score: float = 0.0,
    ):
        self.grounder = grounder
        self.known = known
        self.class_words = class_words
        self.min_score = min_score  # weaker groundings leave the word alone

    def __call__(self, prompt: str) -> str:
        return self.explain(prompt)[0]

    def explain(self, prompt: str) -> tuple[str, list[Grounding]]:
        return self.grounder.rewrite(prompt, self.known, self.class_words, self.min_score)


class LazyPromptGrounder:
    """A `PromptGrounder` built on the first prompt (reading WordNet takes a couple of seconds;
    a generator that is never asked for text should not pay them). Without WordNet, prompts
    pass unchanged after one warning."""

    def __init__(self, build: Callable[[], PromptGrounder]) -> None:
        self.build = build
        self._built: PromptGrounder | None = None
        self._tried = False

    def built(self) -> PromptGrounder | None:
        if not self._tried:
            self._tried = True
            try:
                self._built = self.build()
            except FileNotFoundError as err:
                log.warning("prompts are not grounded: %s", err)
        return self._built

    def __call__(self, prompt: str) -> str:
        grounder = self.built()
        return grounder(prompt) if grounder is not None else prompt

    def explain(self, prompt: str) -> tuple[str, list[Grounding]]:
        grounder = self.built()
        return grounder.explain(prompt) if grounder is not None else (prompt, [])


def prompt_grounder(class_names: list[str], dataset: str) -> LazyPromptGrounder | None:
    """The grounder of a text model trained on `dataset`'s class captions (built on first use),
    or None where the classes have no reviewed synsets."""
    table = reviewed_synsets(dataset)
    if table is None or set(table) != set(class_names):
        return None
    return LazyPromptGrounder(lambda: build_prompt_grounder(class_names, dataset))


def vocabulary_grounder(texts: list[str]) -> PromptGrounder:
    """A grounder whose "classes" are the nouns a dataset's own `texts` use (emoji: "apple",
    "dog", "face"): a prompt word no name uses is replaced by the name word it is a kind of or
    a synonym of ("puppy" -> "dog", "automobile" -> "car"), each noun by its first WordNet sense.
    Words of two letters or fewer and those WordNet lacks stay as they are."""
    wordnet = load_wordnet()
    known = {w for text in texts for w in WORD.findall(text.lower())}
    table = {}
    for word in sorted(known):
        senses = wordnet.synsets(word) if len(word) > 2 else []
        if senses:
            table[word] = [wordnet.name(senses[0])]
    # 0.25: at most two edges away (a kitten is a cat; not every distant hyponym of "symbol")
    return PromptGrounder(Grounder(table, wordnet), known, {w: w for w in table}, min_score=0.25)


def build_prompt_grounder(class_names: list[str], dataset: str) -> PromptGrounder:
    """WordNet read, the classes' subgraphs searched, the caption bank's training words listed."""
    from knowgen.knowledge.captions import SYNONYMS, class_caption_bank

    grounder = Grounder(reviewed_synsets(dataset))
    bank = class_caption_bank(class_names, dataset)
    trained = [c for c, held in zip(bank.captions, bank.held_out.tolist(), strict=True) if not held]
    known: set[str] = set()
    for caption in trained:
        words = WORD.findall(caption.lower())
        known.update(words)
        known.update(f"{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    nouns = SYNONYMS.get(dataset, {})  # the caption word of each class: its first training noun
    class_words = {c: nouns.get(c, [c])[0].split(" of ")[-1] for c in class_names}
    return PromptGrounder(grounder, known, class_words)
