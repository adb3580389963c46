"""`knowgen sample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.export import (
    condition_kind,
    conditioned_classes,
    generate,
    load_generator_and_meta,
)
from knowgen.images import display_scale, save_grid
from knowgen.knowledge import class_index

NAME = "sample"


@reports_user_errors
def command(
    source: Path = typer.Argument(..., help="A run directory or an export folder."),
    n: int = typer.Option(64, "--n", help="Number of images."),
    out: Path = typer.Option(Path("samples.png"), help="PNG grid to write."),
    npy: Path = typer.Option(None, help="Also write the uint8 images (N, C, H, W) as .npy."),
    seed: int = typer.Option(0, help="Noise seed; the same seed gives the same images."),
    nrow: int = typer.Option(None, help="Images per grid row (default: square)."),
    scale: int = typer.Option(None, help="Enlarge each image this many times in the grid."),
    by_class: int = typer.Option(
        None,
        help="One labelled row per class, this many images each. Conditional generators are "
        "asked for each class; unconditional ones have their first --n samples sorted by what "
        "the dataset's evaluator sees (nothing is picked by quality).",
    ),
    class_: list[str] = typer.Option(
        [],
        "--class",
        help="Conditional generators: the class to draw, by name or index (repeat for one row "
        "per class, --n images each).",
    ),
    text: list[str] = typer.Option(
        [],
        "--text",
        help='Text generators: a description, e.g. "a pair of running shoes" (repeat for one '
        "row per prompt, --n images each).",
    ),
    prompts: Path = typer.Option(
        None, help="Text generators: a file of prompts, one per line (# comments skipped)."
    ),
    color: list[str] = typer.Option(
        [],
        "--color",
        help='Fusion generators: a colour, "#c0392b" or a name (red, yellow, green, cyan, '
        "blue, magenta); repeat for one row each.",
    ),
    structure: list[Path] = typer.Option(
        [],
        "--structure",
        help="Fusion generators: an image whose silhouette (7x7 occupancy) the samples follow; "
        "repeat for one row each.",
    ),
    attribute: list[str] = typer.Option(
        [],
        "--attribute",
        help="Fusion generators trained with attribute kinds (shapes): NAME=VALUE in [0, 1], "
        "e.g. size=0.9, rotation=0.5, position=0.2,0.8 (x, y); repeat for one row each.",
    ),
    guidance: list[float] = typer.Option(
        [],
        "--guidance",
        help="Fusion generators: how strongly the given knowledge is followed (1 = as trained; "
        "above 1 pushes past it, like classifier-free guidance); repeat for one row each.",
    ),
) -> None:
    """Generate images from a trained generator (EMA weights) without unpickling anything."""
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    generator, meta = load_generator_and_meta(source)
    wanted_text = list(text) + (read_prompts(prompts) if prompts is not None else [])
    if condition_kind(generator) == "fusion":
        side = int(meta["image_shape"][-1])
        wanted = (list(class_), color, structure, wanted_text, guidance)
        images = write_fusion_rows(generator, *wanted, side, n, seed, out, scale, attribute)
        typer.echo(f"wrote {len(images)} samples ({n} per row) to {out}")
        write_npy(npy, images)
        return
    if color or structure or guidance or attribute:
        raise ValueError(
            f"{source} is not a fusion generator; --color/--structure/--attribute/--guidance "
            "need one"
        )
    is_text = condition_kind(generator) == "text"
    if wanted_text or is_text:
        if not is_text:
            raise ValueError(
                f"{source} is not text-conditional; --text/--prompts need a generator trained "
                "with model.condition='text' (e.g. the text preset)"
            )
        if not wanted_text:
            raise ValueError(f'{source} is text-conditional: pass --text "..." or --prompts FILE')
        if class_ or by_class:
            raise ValueError("--class/--by-class do not apply to a text generator; use --text")
        images = write_prompt_rows(generator, meta, wanted_text, n, seed, out, scale)
        typer.echo(f"wrote {n} samples of each of {len(wanted_text)} prompt(s) to {out}")
        write_npy(npy, images)
        return
    conditional = conditioned_classes(generator) > 0
    if class_ and not conditional:
        raise ValueError(
            f"{source} is an unconditional generator; --class needs one trained with "
            "model.condition='class' (e.g. the cgan preset). --by-class sorts unconditional "
            "samples by the evaluator's verdict instead."
        )
    names = generator.class_names
    if class_ or (by_class and conditional):
        wanted = [class_index(c, names) for c in class_] or list(range(len(names)))
        per_class = n if class_ else by_class
        images = write_given_class_rows(generator, wanted, per_class, seed, out, scale)
        typer.echo(f"wrote {per_class} samples of each of {len(wanted)} class(es) to {out}")
    else:
        images = generate(generator, n, seed=seed)
        scale = scale or display_scale(images.shape[-1])
        if by_class:
            write_class_rows(meta, images, by_class, out, scale)
        else:
            save_grid(images, out, nrow=nrow, scale=scale)
        typer.echo(f"wrote {n} samples to {out}")
    write_npy(npy, images)


def write_npy(npy: Path | None, images) -> None:
    """Also save the uint8 images (N, C, H, W) as .npy, when --npy asks for it."""
    if npy is not None:
        np.save(npy, images.numpy())
        typer.echo(f"wrote {tuple(images.shape)} uint8 array to {npy}")


def write_labelled_rows(generator, rows: list, labels: list[str], per_row: int, seed: int,
                        out: Path, scale):  # fmt: skip
    """One labelled grid row per conditions dict in `rows`, the same `per_row` noise vectors in
    every row, so that rows differ by the knowledge alone; returns the images (row-major)."""
    import torch

    from knowgen.images import to_uint8

    z = torch.randn(per_row, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = torch.cat([to_uint8(generator(z, cond)) for cond in rows])
    scale = scale or display_scale(images.shape[-1])
    save_grid(images, out, nrow=per_row, scale=scale)
    write_row_labels(out, labels, images.shape[-2] * scale)
    return images


def write_given_class_rows(
    generator, classes: list[int], per_class: int, seed: int, out: Path, scale: int | None
):
    """One row per requested class of a conditional generator, labelled with the class name;
    returns the images (class-major order)."""
    import torch

    given = torch.tensor(classes).repeat_interleave(per_class)
    images = generate(generator, len(given), seed=seed, classes=given)
    scale = scale or display_scale(images.shape[-1])
    save_grid(images, out, nrow=per_class, scale=scale)
    labels = [generator.class_names[c] for c in classes]
    write_row_labels(out, labels, images.shape[-2] * scale)
    return images


def parse_color(text: str) -> float:
    """A hue in [0, 1) from "#rrggbb" or one of the six colour names."""
    import colorsys

    from knowgen.knowledge.fusion import HUE_BINS

    name = text.strip().lower()
    if name in HUE_BINS:
        return HUE_BINS.index(name) / len(HUE_BINS)
    digits = name.removeprefix("#")
    if len(digits) != 6 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"--color {text!r}: give #rrggbb or one of {', '.join(HUE_BINS)}")
    r, g, b = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, saturation, _ = colorsys.rgb_to_hsv(r, g, b)
    if saturation < 0.1:
        raise ValueError(f"--color {text!r} is grey: it has no hue to follow")
    return hue


def read_structure(path: Path, side: int):
    """An image file -> its 7x7 occupancy mask (1, 1, 7, 7), as training computes it."""
    import torch
    from PIL import Image

    from knowgen.data.color import structure_mask

    if not path.is_file():
        raise FileNotFoundError(f"structure image {str(path)!r} does not exist")
    try:
        with Image.open(path) as picture:
            grey = picture.convert("L").resize((side, side), Image.Resampling.BILINEAR)
    except OSError as err:
        raise ValueError(f"{path}: not a readable image ({err})") from None
    pixels = torch.from_numpy(np.asarray(grey, dtype=np.uint8).copy())
    return structure_mask(pixels[None, None])


def write_fusion_rows(
    generator, classes: list[str], colors: list[str], structures: list[Path], texts: list[str],
    guidance: list[float], side: int, per_row: int, seed: int, out: Path, scale,
    attributes: list[str] = (),
):  # fmt: skip
    """One labelled row per combination of the given knowledge (class x colour x structure x
    description x attribute x guidance scale; a kind not given is left out), the same noise in
    every row; returns the images."""
    import itertools

    import torch

    from knowgen.knowledge.fusion import check_guidance

    encoder = generator.encoder
    kinds = encoder.kinds
    named = parse_attributes(attributes)
    given = [("class", classes), ("hue", colors), ("structure", structures), ("text", texts)]
    for kind, values in given + list(named.items()):
        if values and kind not in kinds:
            raise ValueError(f"this generator was not trained with {kind} knowledge ({kinds})")
    for strength in guidance:
        check_guidance(strength, "--guidance")

    def each(values: list, kind: str, make) -> list:
        """(label, conditions) per value of one kind."""
        return [(label, {kind: make(value)}) for label, value in values]

    described = []
    if texts:
        from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

        vectors = cached_embeddings(SentenceEmbedder(encoder.text_model), texts)["pooled"]
        described = [(short_label(t), v) for t, v in zip(texts, vectors, strict=True)]
    names = generator.class_names
    options = [
        each([(c, class_index(c, names)) for c in classes], "class",
             lambda k: torch.full((per_row,), k, dtype=torch.long)),
        each([(c, parse_color(c)) for c in colors], "hue", lambda h: torch.full((per_row,), h)),
        each([(p.name, read_structure(p, side)) for p in structures], "structure",
             lambda m: m.expand(per_row, -1, -1, -1)),
        each(described, "text", lambda v: v.expand(per_row, -1)),
        *(each(values, kind, lambda v: v.expand(per_row, *v.shape))
          for kind, values in named.items()),
    ]  # fmt: skip
    rows, labels = [], []
    combinations = itertools.product(*(option or [None] for option in options))
    for parts, strength in itertools.product(combinations, guidance or [None]):
        parts = [part for part in parts if part is not None]
        cond = {}
        if not parts:  # nothing given: every kind present but masked out (its null token)
            cond = encoder.placeholder(per_row)
            cond |= {f"{k}_given": torch.zeros(per_row, dtype=torch.bool) for k in kinds}
        for _, values in parts:
            cond |= values
        label = ", ".join(label for label, _ in parts) or "nothing"
        if strength is not None:
            cond["guidance"] = torch.full((per_row,), strength)
            label += f" x{strength:g}"
        rows.append(cond)
        labels.append(label)
    return write_labelled_rows(generator, rows, labels, per_row, seed, out, scale)


def parse_attributes(texts: list[str]) -> dict[str, list]:
    """["size=0.9", "position=0.1,0.8", "size=0.2"] -> {"size": [("size 0.9", tensor), ...]}:
    each attribute's values in [0, 1], in the order given."""
    import torch

    from knowgen.knowledge.fusion import ATTRIBUTE_KINDS

    out: dict[str, list] = {}
    for text in texts:
        name, _, rest = text.partition("=")
        name = name.strip()
        if name not in ATTRIBUTE_KINDS or not rest:
            raise ValueError(
                f"--attribute {text!r}: give NAME=VALUE with NAME one of {list(ATTRIBUTE_KINDS)}"
            )
        try:
            values = [float(v) for v in rest.split(",")]
        except ValueError:
            raise ValueError(f"--attribute {text!r}: values must be numbers in [0, 1]") from None
        width = len(ATTRIBUTE_KINDS[name])
        if len(values) != width or not all(0 <= v <= 1 for v in values):
            raise ValueError(f"--attribute {text!r}: {name} takes {width} value(s) in [0, 1]")
        value = torch.tensor(values[0] if width == 1 else values)
        out.setdefault(name, []).append((f"{name} {rest.strip()}", value))
    return out


def short_label(prompt: str, width: int = 40) -> str:
    """A prompt as a row label: cut to `width` characters."""
    return prompt if len(prompt) <= width else prompt[: width - 3] + "..."


def read_prompts(path: Path) -> list[str]:
    """Prompts from a text file: one per line; blank lines and lines starting with # skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"prompt file {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ValueError(f"{path} holds no prompts (one per line)")
    return prompts


def write_prompt_rows(
    generator, meta: dict, prompts: list[str], per_prompt: int, seed: int, out: Path, scale
):
    """One labelled row per prompt, the same noise in every row (so rows differ by the text
    alone); returns the images (prompt-major order)."""
    from knowgen.knowledge.text import SentenceEmbedder, cached_embeddings

    model = meta["model"]
    embedder = SentenceEmbedder(model.get("text_model", "all-MiniLM-L6-v2"))
    pooled = cached_embeddings(embedder, prompts)["pooled"]
    if pooled.shape[1] != model.get("text_dim", 384):
        raise ValueError(
            f"{embedder.name} gives {pooled.shape[1]}-d embeddings; this generator was trained "
            f"on {model.get('text_dim', 384)}-d ones"
        )
    rows = [{"text": row.expand(per_prompt, -1)} for row in pooled]
    labels = [short_label(p) for p in prompts]
    return write_labelled_rows(generator, rows, labels, per_prompt, seed, out, scale)


def write_row_labels(out: Path, labels: list[str], row_height: int) -> None:
    """Rewrite the grid PNG at `out` with a label before each row."""
    from PIL import Image

    from knowgen.images import label_rows

    with Image.open(out) as picture:
        labelled = label_rows(picture.copy(), labels, row_height, pad=2)
    labelled.save(out)


def write_class_rows(meta: dict, images, per_class: int, out: Path, scale: int) -> None:
    """One row per evaluator class, labelled, for unconditional generators."""
    from knowgen.config import section_from_dict
    from knowgen.data import DataConfig
    from knowgen.images import arrange_by_class
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features

    evaluator = load_or_train_evaluator(section_from_dict(DataConfig, meta["data"], "data"))
    predicted = extract_features(evaluator, images).logits.argmax(1)
    names = evaluator.class_names
    rows = arrange_by_class(images, predicted, len(names), per_class)
    save_grid(rows, out, nrow=per_class, scale=scale)
    counts = [int((predicted == c).sum()) for c in range(len(names))]
    labels = [f"{name} ({count})" for name, count in zip(names, counts, strict=True)]
    write_row_labels(out, labels, images.shape[-2] * scale)
