"""What a text model reads a prompt as: the training phrasing it is anchored to, the class it
reached, and how sure that is.

Why anchor: G was trained on the sentence embeddings of its caption bank's training phrasings and
nowhere else. A prompt in other words lands between them, where G's answer is unreliable even
when WordNet grounding has already found the right class word ("a cosy wool pullover" is still a
sentence the bank never had). So a prompt is read as the training phrasing nearest to it in the
sentence encoder's space (cosine): a point G was trained on, of the class the prompt is nearest
to. Only class caption banks are read and anchored: a captions file's phrasings describe single
images, and snapping to one would drop the combinations a prompt asks for.

How sure: a softmax over the classes of the best cosine each class's training phrasings reach,
at `TEMPERATURE`, fitted (negative log-likelihood) on the Fashion-MNIST bank's own held-out
phrasings (`benchmarks/text_prompts.py --calibrate`); a person's prompts were never used to fit it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from knowgen.knowledge.grounding import Grounding

TEMPERATURE = 0.035  # NLL 0.440 on the bank's held-out phrasings (0.446 at 0.03, 0.442 at 0.04)


@dataclass(frozen=True)
class Reading:
    """What one prompt reached."""

    prompt: str
    read_as: str  # the prompt after WordNet grounding (the sentence the encoder read)
    groundings: tuple[Grounding, ...]  # the words grounding rewrote
    nearest: str  # the training phrasing nearest to it
    cosine: float  # how near (1 = the same embedding)
    class_name: str  # the class reached
    confidence: float  # the probability of that class
    runner_up: str | None = None  # (None: a model of one class)
    runner_up_confidence: float | None = None
    anchored: bool = True  # whether G is asked with `nearest`'s embedding

    def describe(self) -> str:
        """One line: class pullover (0.97; next shirt 0.02), read as 'a plain pullover' (cosine
        0.81)."""
        reached = f"class {self.class_name} ({self.confidence:.2f}"
        if self.runner_up is not None:
            reached += f"; next {self.runner_up} {self.runner_up_confidence:.2f}"
        reached += ")"
        how = "read as" if self.anchored else "nearest training phrasing"
        return f"{reached}, {how} {self.nearest!r} (cosine {self.cosine:.2f})"

    def as_dict(self) -> dict:
        """The reading as JSON-ready fields (what the HTTP API returns)."""
        return {
            "prompt": self.prompt,
            "read_as": self.read_as,
            "class": self.class_name,
            "confidence": self.confidence,
            "runner_up": self.runner_up,
            "runner_up_confidence": self.runner_up_confidence,
            "nearest": self.nearest,
            "cosine": self.cosine,
            "anchored": self.anchored,
            "groundings": [g.describe() for g in self.groundings],
            "description": self.describe(),
        }


class CaptionAnchor:
    """A class caption bank's training phrasings, as the points a text model was trained on."""

    def __init__(self, captions: list[str], pooled: torch.Tensor, caption_class: torch.Tensor,
                 class_names: list[str]) -> None:  # fmt: skip
        self.captions = captions
        self.pooled = pooled.float()
        self.unit = torch.nn.functional.normalize(self.pooled, dim=1)
        self.caption_class = caption_class
        self.class_names = class_names

    @classmethod
    def of_conditions(cls, text, class_names: list[str]) -> CaptionAnchor:
        """The training phrasings of a `TextConditions` (its bank and embeddings)."""
        trained = (~text.bank.held_out).nonzero().flatten()
        captions = [text.bank.captions[i] for i in trained.tolist()]
        return cls(captions, text.pooled[trained].cpu(), text.bank.caption_class[trained],
                   class_names)  # fmt: skip

    def cosines(self, vectors: torch.Tensor) -> torch.Tensor:
        """(B, phrasings): each embedding's cosine with every training phrasing."""
        return torch.nn.functional.normalize(vectors.float().cpu(), dim=1) @ self.unit.T

    def class_probabilities(self, cosines: torch.Tensor) -> torch.Tensor:
        """(B, classes) from `cosines`: softmax over each class's best cosine, at
        `TEMPERATURE`."""
        per_class = torch.full((len(cosines), len(self.class_names)), -1.0)
        per_class = per_class.scatter_reduce(
            1, self.caption_class.expand(len(cosines), -1), cosines, "amax"
        )
        return torch.softmax(per_class / TEMPERATURE, dim=1)

    def anchor(self, vectors: torch.Tensor) -> torch.Tensor:
        """Each embedding replaced by its nearest training phrasing's (same dtype, device)."""
        index = self.cosines(vectors).argmax(1)
        return self.pooled[index].to(vectors.device, vectors.dtype)


class PromptReader:
    """Grounding, then the anchor: what `sample(text=...)` does to a prompt, and the account of
    it that `knowgen ground` and `sample --text` print. Both parts are built on first use
    (WordNet and the bank's embeddings take seconds; a model never asked for text skips them)."""

    def __init__(
        self,
        grounder,  # a LazyPromptGrounder or None
        build_anchor: Callable[[], CaptionAnchor],
        anchors: bool,
        embed: Callable[[list[str]], torch.Tensor],
    ) -> None:
        self.grounder = grounder
        self.build_anchor = build_anchor
        self.anchors = anchors  # whether sampling replaces a prompt by its nearest phrasing
        self.embed = embed  # prompts -> the frozen sentence encoder's embeddings
        self._anchor: CaptionAnchor | None = None

    @property
    def anchor(self) -> CaptionAnchor:
        if self._anchor is None:
            self._anchor = self.build_anchor()
        return self._anchor

    def read(self, prompts: list[str]) -> list[Reading]:
        """What each of `prompts` reaches (grounded once, embedded, compared with the bank)."""
        explained = [self.grounder.explain(p) if self.grounder else (p, []) for p in prompts]
        anchor = self.anchor
        cosines = anchor.cosines(self.embed([read_as for read_as, _ in explained]))
        cosine, index = cosines.max(1)
        probabilities = anchor.class_probabilities(cosines)
        readings = []
        for i, (prompt, (read_as, used)) in enumerate(zip(prompts, explained, strict=True)):
            ranked = ranked_classes(probabilities[i], anchor.class_names)
            readings.append(
                Reading(
                    prompt=prompt,
                    read_as=read_as,
                    groundings=tuple(used),
                    nearest=anchor.captions[int(index[i])],
                    cosine=float(cosine[i]),
                    anchored=self.anchors,
                    **ranked,
                )
            )
        return readings


def ranked_classes(probabilities: torch.Tensor, class_names: list[str]) -> dict:
    """The likeliest class and the runner-up, with their probabilities, as `Reading` fields."""
    top = probabilities.topk(min(2, len(probabilities)))
    names = [class_names[c] for c in top.indices.tolist()] + [None]
    sure = top.values.tolist() + [None]
    return {"class_name": names[0], "confidence": sure[0], "runner_up": names[1],
            "runner_up_confidence": sure[1]}  # fmt: skip


def class_bank_reader(class_names: list[str], dataset: str, text_model: str) -> PromptReader:
    """The reader of a text model trained on `dataset`'s class captions, without the model: what
    `knowgen ground` shows before (or instead of) a run."""
    from knowgen.knowledge.captions import class_caption_bank
    from knowgen.knowledge.grounding import prompt_grounder
    from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings, load_text_conditions

    def build() -> CaptionAnchor:
        bank = class_caption_bank(class_names, dataset)
        return CaptionAnchor.of_conditions(load_text_conditions(text_model, bank), class_names)

    def embed(prompts: list[str]) -> torch.Tensor:
        return cached_embeddings(SentenceEmbedder(text_model), prompts)["pooled"]

    return PromptReader(prompt_grounder(class_names, dataset), build, True, embed)
