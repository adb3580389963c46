"""The one way to sample: `load(path)` -> a `Generator` that makes images from any knowledge it
was trained with, given the way a person would give it.

```python
g = knowgen.load("runs/fusion")          # a run directory, a checkpoint or an export folder
g.kinds                                   # ('class', 'hue', 'structure')
g.sample(8, class_="dress", color="red").save_grid("dresses.png")
```

The CLI, evaluation, training's sample grids, serving and the benchmarks all come through here;
none of them builds condition tensors itself. Exports are safetensors + JSON, checkpoints are read
with `weights_only=True`: no path through this module unpickles code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from knowgen.checkpoint import latest_checkpoint
from knowgen.files import atomic_write, atomic_write_text
from knowgen.generator_files import (
    EXPORT_FORMAT_VERSION,
    GENERATOR_SECTIONS,
    META_NAME,
    WEIGHTS_NAME,
    check_description,
    check_weights_fit,
    read_generator_source,
)
from knowgen.images import display_scale, grid_picture, label_rows, save_png, to_uint8
from knowgen.knowledge.conditioning import (
    accepted_kinds,
    prompt_reader,
    request,
    takes_guidance,
    text_grounder,
)
from knowgen.knowledge.config import DEFAULT_TEXT_MODEL, KnowledgeConfig, move_knowledge_keys
from knowgen.knowledge.encoders import Conditions
from knowgen.knowledge.kinds import KINDS, KindContext, KnowledgeError, kind_named, public_name
from knowgen.knowledge.prompt_reading import Reading
from knowgen.models import ModelConfig, build_generator
from knowgen.models.codes import traverse_code
from knowgen.sections import section_from_dict

MAX_BATCH = 500  # images per forward pass
MAX_SAMPLE_BYTES = 2**31  # one call's images (uint8): beyond this, ask in parts


@dataclass
class Samples:
    """Generated images: uint8 (N, C, H, W), and a label per grid row when rows were asked for."""

    images: torch.Tensor
    row_labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def numpy(self) -> np.ndarray:
        """The images as a uint8 array (N, C, H, W)."""
        return self.images.numpy()

    def pil(self) -> list:
        """One PIL image per sample (grey images as mode L, colour as RGB)."""
        from PIL import Image

        pixels = self.images.permute(0, 2, 3, 1).numpy()
        return [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pixels]

    def save_grid(
        self, path: str | Path, nrow: int | None = None, scale: int | None = None
    ) -> Path:
        """A PNG grid of the samples (rows labelled when they have labels). Returns the path."""
        return save_png(self.grid_picture(nrow, scale), path)

    def grid_picture(self, nrow: int | None = None, scale: int | None = None):
        """The samples as one PIL picture: a grid, each image enlarged `scale` times (default:
        big enough to judge by eye), rows labelled when they have labels."""
        scale = scale or display_scale(self.images.shape[-1])
        if self.row_labels:
            nrow = nrow or len(self.images) // len(self.row_labels)
        picture = grid_picture(self.images, nrow, scale)
        if self.row_labels:
            picture = label_rows(picture, self.row_labels, self.images.shape[-2] * scale, pad=2)
        return picture

    def save_pngs(self, folder: str | Path) -> list[Path]:
        """One PNG per sample, `000000.png`, ... in `folder` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{i:06d}.png" for i in range(len(self))]
        for picture, path in zip(self.pil(), paths, strict=True):
            save_png(picture, path)
        return paths

    @staticmethod
    def rows(parts: list[Samples], labels: list[str]) -> Samples:
        """Samples of several requests, one labelled grid row each."""
        return Samples(torch.cat([p.images for p in parts]), labels)


class Generator:
    """A trained generator (EMA weights, eval mode) and what it was trained with.

    Attributes:
        kinds: the kinds of knowledge `sample` accepts (`class`, `text`, `hue`, ...).
        class_names: the dataset's classes (for `class_=` by name).
        image_shape: (C, H, W) of every sample.
        codes: InfoGAN codes by name ("c1": "categorical (10 values)"); empty without codes.
        network: the `nn.Module`, for those who need the tensors.
    """

    def __init__(self, network: nn.Module, meta: dict[str, Any]) -> None:
        self.network = network
        self.meta = meta | move_knowledge_keys({k: meta.get(k, {}) for k in GENERATOR_SECTIONS})
        meta = self.meta
        self.config = section_from_dict(ModelConfig, meta["model"], "model")
        self.knowledge = section_from_dict(KnowledgeConfig, meta.get("knowledge", {}), "knowledge")
        self.class_names: list[str] = list(meta.get("class_names", []))
        self.image_shape = tuple(int(s) for s in meta["image_shape"])
        self.kinds = accepted_kinds(self.knowledge)
        codes = self.config.codes
        self.codes = dict(zip(codes.names(), [d.split(": ", 1)[1] for d in codes.describe()],
                              strict=True))  # fmt: skip
        self.takes_guidance = takes_guidance(self.knowledge)
        dataset = (meta.get("data") or {}).get("name", "")
        # WordNet grounding of a text model's prompts (knowledge.ground_text), or None
        self.grounder = text_grounder(self.knowledge, self.class_names, dataset)
        # what a prompt reaches (grounding, then the nearest trained phrasing), or None
        self.reader = prompt_reader(self.knowledge, self.class_names, self.grounder,
                                    self._text_conditions, self._embed)  # fmt: skip
        anchors = self.reader is not None and self.reader.anchors
        self.context = KindContext(
            tuple(self.class_names),
            image_side=self.image_shape[-1],
            text_model=self.knowledge.text_model,
            text_dim=self.knowledge.text_dim,
            rewrite_text=self.grounder,
            anchor_text=(lambda vectors: self.reader.anchor.anchor(vectors)) if anchors else None,
            dataset=dataset,
        )

    def __repr__(self) -> str:
        kinds = ", ".join(public_name(k) for k in self.kinds) or "unconditional"
        return f"Generator({self.config.name}, {self.image_shape}, knowledge: {kinds})"

    @property
    def z_dim(self) -> int:
        return int(self.network.z_dim)

    def conditions(
        self, num: int, guidance: float | None = None, **knowledge: Any
    ) -> Conditions | None:
        """The condition tensors that ask for `num` images of `knowledge` (see `sample`)."""
        given = {}
        for keyword, value in knowledge.items():
            if value is None:
                continue
            kind = kind_named(keyword, self.kinds)
            if kind in given:
                raise KnowledgeError(f"{public_name(kind)} given twice (as {keyword!r})")
            given[kind] = KINDS[kind].parse(value, num, self.context)
        return request(self.knowledge, self.network, given, num, guidance)

    def _text_conditions(self):
        from knowgen.knowledge.text import text_conditions_of_run

        return text_conditions_of_run(self.meta)

    def read_text(self, prompts: str | list[str]) -> list[Reading]:
        """What each prompt reaches: the class and how sure (a probability), the training
        phrasing it is read as, and the words WordNet grounded; `sample(text=...)` asks G with
        exactly this (see `knowledge/prompt_reading.py`). Only for text models."""
        if self.reader is None:
            takes = ", ".join(public_name(k) for k in self.kinds) or "no knowledge"
            raise KnowledgeError(
                "read_text needs a text model trained on class captions (not a captions file); "
                f"this one takes {takes}"
            )
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return self.reader.read(KINDS["text"].prompts(prompts, len(prompts)))

    def _embed(self, prompts: list[str]) -> torch.Tensor:
        return KINDS["text"].embed(prompts, self.context)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int = 0,
        guidance: float | None = None,
        codes: Mapping[str, float] | None = None,
        **knowledge: Any,
    ) -> Samples:
        """`n` images of the given knowledge, the same for the same seed and knowledge.

        Args:
            n: how many images (>= 1).
            seed: the noise seed; rows asked with the same seed share their noise.
            guidance: fusion only: how strongly the given knowledge is followed (1 = as trained,
                above 1 pushes past it, like classifier-free guidance; 0..10).
            codes: InfoGAN codes to fix, by name: {"c1": 3} (a category), {"c2": 0.5} (a value).
            **knowledge: any subset of `kinds`: `class_="dress"` (name or index, or a list of n),
                `text="a light summer frock"`, `color="#c0392b"` or `"red"`, `structure=` a PNG
                path / PIL image / array / 7x7 grid, `size=0.9`, `rotation=0.5`,
                `position=(0.2, 0.8)`. Tensors already in the encoder's form pass unchanged.
        """
        check_seed(seed)
        self._check_count(n)
        cond = self.conditions(n, guidance, **knowledge)
        rng = torch.Generator().manual_seed(seed)
        chunks = []
        for start in range(0, n, MAX_BATCH):
            z = torch.randn(min(MAX_BATCH, n - start), self.z_dim, generator=rng)
            chunks.append(self._with_codes(z, codes) if codes else z)
        return self._decode(torch.cat(chunks), cond)

    @torch.no_grad()
    def interpolate(
        self,
        seed_a: int,
        seed_b: int,
        steps: int = 8,
        guidance: float | None = None,
        codes: Mapping[str, float] | None = None,
        **knowledge: Any,
    ) -> Samples:
        """`steps` images along the way from the first latent of `seed_a` to that of `seed_b`
        (spherical interpolation: every point keeps the norm a Gaussian latent has), with the
        same knowledge and the same named InfoGAN `codes` throughout, so the strip shows what the
        rest of the latent alone changes."""
        check_seed(seed_a)
        check_seed(seed_b)
        self._check_count(steps)
        if steps < 2:
            raise KnowledgeError(f"an interpolation needs steps >= 2, got {steps}")
        ends = [torch.randn(1, self.z_dim, generator=torch.Generator().manual_seed(s))
                for s in (seed_a, seed_b)]  # fmt: skip
        z = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)[:, None])
        z = self._with_codes(z, codes) if codes else z
        return self._decode(z, self.conditions(steps, guidance, **knowledge))

    def traverse(
        self, code: str, samples: int = 8, steps: int = 9, span: float = 2.0, seed: int = 0,
        codes: Mapping[str, float] | None = None, **knowledge: Any,
    ) -> Samples:  # fmt: skip
        """One row per value of InfoGAN code `code` (each category; `steps` values in
        [-span, span] for a continuous one), the same noise and other codes in every column.
        `codes` is refused, not ignored: the other codes are drawn per row, so none can be held."""
        if codes:
            raise KnowledgeError("a traversal varies one code and draws the others; drop codes")
        if code not in self.codes:
            raise KnowledgeError(f"unknown code {code!r}; this generator has {self.codes}")
        layout, index = self.config.codes, list(self.codes).index(code)
        continuous = index >= len(layout.categorical)
        if continuous and (not 0 < span <= 10 or not 2 <= steps <= 64):
            raise KnowledgeError("a continuous code takes span in (0, 10] and 2..64 steps")
        check_seed(seed)
        self._check_count(samples)
        cond = self.conditions(samples, **knowledge)
        images, labels = traverse_code(self.network, code, samples, steps, span, seed, cond)
        return Samples(to_uint8(images), labels)

    def _check_count(self, n: Any) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise KnowledgeError(f"n must be a positive integer, got {n!r}")
        most = MAX_SAMPLE_BYTES // max(1, int(np.prod(self.image_shape)))
        if n > most:
            raise KnowledgeError(
                f"n={n} images would take over 2 GiB; ask for at most {most} at a time (other "
                "seeds give other images)"
            )

    def _decode(self, z: torch.Tensor, cond: Conditions | None) -> Samples:
        """uint8 images of latents z (N, z_dim) under `cond`, MAX_BATCH at a time."""
        device = next(self.network.parameters()).device
        out = []
        for start in range(0, len(z), MAX_BATCH):
            stop = min(start + MAX_BATCH, len(z))
            part = None if cond is None else cond.map(lambda v: v[start:stop].to(device))  # noqa: B023
            out.append(to_uint8(self.network(z[start:stop].to(device), part)).cpu())
        return Samples(torch.cat(out))

    def _with_codes(self, z: torch.Tensor, codes: Mapping[str, float]) -> torch.Tensor:
        """z with the named InfoGAN codes fixed (the others as drawn)."""
        if not self.codes:
            raise KnowledgeError("this generator has no InfoGAN codes (model.info_*)")
        layout = self.config.codes
        names = layout.names()
        categories: list[torch.Tensor | None] = [None] * len(layout.categorical)
        _, continuous = self.network.code_targets(z)
        continuous = continuous.clone()
        for name, value in codes.items():
            if name not in names:
                raise KnowledgeError(f"unknown code {name!r}; this generator has {self.codes}")
            index = names.index(name)
            if index < len(layout.categorical):
                size = layout.categorical[index]
                whole = isinstance(value, int | float) and float(value).is_integer()
                if isinstance(value, bool) or not whole or not 0 <= value < size:
                    raise KnowledgeError(f"code {name} takes an integer in 0..{size - 1}")
                categories[index] = torch.full((len(z),), int(value))
            else:
                if not isinstance(value, int | float) or not -10 <= value <= 10:  # NaN too
                    raise KnowledgeError(f"code {name} takes a number in [-10, 10]")
                continuous[:, index - len(layout.categorical)] = float(value)
        return self.network.latent(z, categories, continuous)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.network.state_dict()

    def save(self, folder: str | Path) -> Path:
        """Write the export: `generator.safetensors` + `generator.json`. Returns the folder."""
        folder = Path(folder)  # made by the first write: a failed one is named like the others
        weights = {k: v.contiguous() for k, v in self.network.state_dict().items()}
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(weights, str(tmp)))
        atomic_write_text(folder / META_NAME, json.dumps(self.shareable_meta(), indent=2) + "\n")
        return folder

    def shareable_meta(self) -> dict[str, Any]:
        """The export's description: what rebuilds the network, and no local paths (where the
        data or the run lived; a text model given as a folder keeps only the folder's name)."""
        meta = {"format_version": EXPORT_FORMAT_VERSION}
        for key in ("model", "knowledge", "data", "image_shape", "class_names", "step",
                    "reference_split"):  # fmt: skip
            if key in self.meta:
                meta[key] = self.meta[key]
        meta["data"] = {k: v for k, v in dict(meta.get("data", {})).items() if k != "path"}
        knowledge = dict(meta.get("knowledge", {}))
        if knowledge.get("text_model", DEFAULT_TEXT_MODEL) != DEFAULT_TEXT_MODEL:
            knowledge["text_model"] = Path(knowledge["text_model"]).name
        if knowledge.get("captions") not in (None, "none"):
            knowledge["captions"] = Path(knowledge["captions"]).name
        meta["knowledge"] = knowledge
        return meta


def load(path: str | Path) -> Generator:
    """The generator stored at `path`: an export folder (or its .safetensors file), a run
    directory (its newest checkpoint's EMA weights) or a checkpoint file. On the CPU, eval mode."""
    meta, weights = read_generator_source(Path(path))
    check_description(meta, path)
    meta = meta | move_knowledge_keys({k: meta.get(k, {}) for k in GENERATOR_SECTIONS})
    model_cfg = section_from_dict(ModelConfig, meta["model"], "model")
    knowledge = section_from_dict(KnowledgeConfig, meta.get("knowledge", {}), "knowledge")
    class_names = list(meta.get("class_names", []))
    shape = tuple(meta["image_shape"])
    with torch.device("meta"):  # sized by the description, built without memory: check first
        skeleton = build_generator(model_cfg, shape, len(class_names), knowledge)
    check_weights_fit(skeleton.state_dict(), weights, path)
    network = build_generator(model_cfg, shape, len(class_names), knowledge)
    try:
        network.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not match model {model_cfg.name!r} ({err})") from None
    return Generator(network.eval(), meta)


def check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise KnowledgeError(f"seed must be an integer in [0, 2^63), got {seed!r}")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b (1, D) at fractions t (T, 1) -> (T, D)."""
    cos = torch.nn.functional.cosine_similarity(a, b).clamp(-1 + 1e-7, 1 - 1e-7)
    angle = torch.acos(cos)
    if float(angle) < 1e-4:  # (nearly) the same direction: a straight line is the same
        return a + t * (b - a)
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


def export_generator(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Write the newest checkpoint's EMA generator of `run_dir` to `out_dir` (default
    `run_dir/export`). Returns the folder."""
    run_dir = Path(run_dir)
    if latest_checkpoint(run_dir) is None:
        raise FileNotFoundError(f"{str(run_dir)!r} has no checkpoints to export")
    return load(run_dir).save(Path(out_dir) if out_dir else run_dir / "export")


def wrap(network: nn.Module, meta: dict[str, Any]) -> Generator:
    """A `Generator` around a network in memory (training's EMA generator); `meta` holds
    `model` (its config as a dict), `image_shape` and `class_names`."""
    return Generator(network, meta)
