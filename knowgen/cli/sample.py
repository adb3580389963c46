"""`knowgen sample`."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors
from knowgen.files import atomic_write_npy
from knowgen.images import display_scale, label_grid_file, save_grid, save_png
from knowgen.sampling import load

NAME = "sample"


@reports_user_errors
def command(
    source: Path = typer.Argument(..., help="A run directory or an export folder."),
    n: int = typer.Option(64, "--n", min=1, help="Number of images."),
    out: Path = typer.Option(Path("samples.png"), help="PNG grid to write."),
    npy: Path = typer.Option(None, help="Also write the uint8 images (N, C, H, W) as .npy."),
    seed: int = typer.Option(
        0, min=0, max=2**63 - 1, help="Noise seed; the same seed gives the same images."
    ),
    nrow: int = typer.Option(None, min=1, help="Images per grid row (default: square)."),
    scale: int = typer.Option(
        None, min=1, max=64, help="Enlarge each image this many times in the grid."
    ),
    by_class: int = typer.Option(
        None,
        min=1,
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
    style: list[str] = typer.Option(
        [],
        "--style",
        help="Fusion generators trained with styles (emoji): google or twitter (repeat for one "
        "row per style).",
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
    outdir: Path = typer.Option(
        None,
        help="Write one PNG per image into this folder (000000.png, ...; with --seeds, "
        "seed000042.png, ...) instead of a grid: input for clean-fid or your own tools.",
    ),
    seeds: str = typer.Option(
        None,
        help='One image per seed, e.g. "0-99" or "3,7,10-12" (replaces --n and --seed): the '
        "image of seed s is always the same, however many seeds are asked. Needs --outdir.",
    ),
) -> None:
    """Generate images from a trained generator (EMA weights) without unpickling anything.

    Each knowledge option may repeat: one labelled grid row per combination of the values given
    (class x style x colour x structure x text x attribute x guidance), --n images each, the
    same noise in every row, so rows differ by the knowledge alone.
    """
    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    if seeds is not None and outdir is None:
        raise ValueError("--seeds writes one file per seed: give --outdir DIR")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    generator = load(source)
    texts = list(text) + (read_prompts(prompts) if prompts is not None else [])
    options = knowledge_options(class_, color, structure, texts, attribute, style)
    if texts and generator.reader is not None:  # which class each prompt reached, how sure
        for prompt, reading in zip(texts, generator.read_text(texts), strict=True):
            typer.echo(f"{prompt!r} reaches {reading.describe()}")
    if outdir is not None:
        images = write_pngs(generator, options, guidance, n, seed, seed_list, outdir)
        write_npy(npy, images)
        return
    if "class" in generator.kinds and by_class and not class_:
        options["class_"] = [(name, name) for name in generator.class_names]
        n = by_class
    if options or guidance:
        images = write_rows(generator, options, guidance, n, seed, out, scale)
        typer.echo(f"wrote {len(images)} samples ({n} per row) to {out}")
    else:
        samples = generator.sample(n, seed=seed)
        images = samples.images
        scale = scale or display_scale(images.shape[-1])
        if by_class:
            write_class_rows(generator.meta, images, by_class, out, scale)
        else:
            samples.save_grid(out, nrow=nrow, scale=scale)
        typer.echo(f"wrote {n} samples to {out}")
    write_npy(npy, images)


def parse_seeds(spec: str) -> list[int]:
    """ "0-99" or "3,7,10-12" -> the seeds, in order; a malformed or empty spec is an error."""
    out: list[int] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"--seeds {spec!r}: give seeds like 0-99 or 3,7,10-12") from None
        if low < 0 or high < low or high >= 2**63:
            raise ValueError(f"--seeds {spec!r}: {part.strip()!r} is not a range of seeds >= 0")
        out.extend(range(low, high + 1))
    if len(out) > 1_000_000:
        raise ValueError(f"--seeds {spec!r} asks {len(out):,} images; at most 1,000,000")
    return out


def write_pngs(generator, options: dict[str, list], guidance: list[float], n: int, seed: int,
               seeds: list[int] | None, outdir: Path):  # fmt: skip
    """One PNG per image in `outdir`: `n` images of `seed`, or one image per seed of `seeds`
    (named by it), of at most one value per knowledge option; returns the images."""
    import torch

    many = [keyword for keyword, values in options.items() if len(values) > 1]
    if many or len(guidance) > 1:
        raise ValueError("--outdir writes one set of images: give each knowledge option once")
    given = {keyword: values[0][1] for keyword, values in options.items()}
    strength = guidance[0] if guidance else None
    if seeds is None:
        samples = generator.sample(n, seed, guidance=strength, **given)
        samples.save_pngs(outdir)
        typer.echo(f"wrote {n} PNGs to {outdir}")
        return samples.images
    outdir.mkdir(parents=True, exist_ok=True)
    images = []
    for one in seeds:
        sample = generator.sample(1, one, guidance=strength, **given)
        save_png(sample.pil()[0], outdir / f"seed{one:06d}.png")
        images.append(sample.images)
    typer.echo(f"wrote {len(seeds)} PNGs (seeds {seeds[0]}..{seeds[-1]}) to {outdir}")
    return torch.cat(images)


def knowledge_options(classes, colors, structures, texts, attributes, styles=()) -> dict[str, list]:
    """{keyword: [(row label, value), ...]} of the knowledge given on the command line."""
    options = {
        "class_": [(c, c) for c in classes],
        "style": [(s, s) for s in styles],
        "color": [(c, c) for c in colors],
        "structure": [(p.name, p) for p in structures],
        "text": [(short_label(t), t) for t in texts],
    }
    for item in attributes:
        name, _, rest = item.partition("=")
        if not rest:
            raise ValueError(f"--attribute {item!r}: give NAME=VALUE, e.g. size=0.9")
        try:
            values = [float(v) for v in rest.split(",")]
        except ValueError:
            raise ValueError(f"--attribute {item!r}: values must be numbers in [0, 1]") from None
        value = values[0] if len(values) == 1 else tuple(values)
        options.setdefault(name.strip(), []).append((f"{name.strip()} {rest.strip()}", value))
    return {keyword: values for keyword, values in options.items() if values}


def write_rows(generator, options: dict[str, list], guidance: list[float], per_row: int,
               seed: int, out: Path, scale):  # fmt: skip
    """One labelled row per combination of the options and guidance scales; returns the images."""
    import itertools

    from knowgen.sampling import Samples

    for keyword in options:  # a clear error before any image is made
        generator.conditions(1, **{keyword: options[keyword][0][1]})
    if generator.grounder is not None and "text" in options:  # show how each prompt grounds
        options = dict(options, text=[(grounded_label(generator, value, label), value)
                                      for label, value in options["text"]])  # fmt: skip
    rows, labels = [], []
    combinations = itertools.product(*options.values())
    for parts, strength in itertools.product(combinations, guidance or [None]):
        given = {keyword: value for keyword, (_, value) in zip(options, parts, strict=True)}
        rows.append(generator.sample(per_row, seed, guidance=strength, **given))
        label = ", ".join(label for label, _ in parts) or "nothing"
        labels.append(label + (f" x{strength:g}" if strength is not None else ""))
    samples = Samples.rows(rows, labels)
    samples.save_grid(out, nrow=per_row, scale=scale)
    return samples.images


def grounded_label(generator, prompt: str, label: str) -> str:
    """A prompt's row label, with the WordNet path of each word it grounded: "a frock
    [frock > dress.n.01 > dress]"."""
    _, used = generator.grounder.explain(prompt)
    paths = "; ".join(f"{g.word.replace('_', ' ')} > {' > '.join(g.path)} > {g.class_name}"
                      for g in used)  # fmt: skip
    return f"{label} [{paths}]" if paths else label


def write_npy(npy: Path | None, images) -> None:
    """Also save the uint8 images (N, C, H, W) as .npy, when --npy asks for it."""
    if npy is not None:
        atomic_write_npy(npy, images.numpy())
        typer.echo(f"wrote {tuple(images.shape)} uint8 array to {npy}")


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


def write_class_rows(meta: dict, images, per_class: int, out: Path, scale: int) -> None:
    """One row per evaluator class, labelled, for unconditional generators."""
    from knowgen.data import DataConfig
    from knowgen.images import arrange_by_class
    from knowgen.metrics.evaluator import load_or_train_evaluator
    from knowgen.metrics.features import extract_features
    from knowgen.sections import section_from_dict

    evaluator = load_or_train_evaluator(section_from_dict(DataConfig, meta["data"], "data"))
    predicted = extract_features(evaluator, images).logits.argmax(1)
    names = evaluator.class_names
    rows = arrange_by_class(images, predicted, len(names), per_class)
    save_grid(rows, out, nrow=per_class, scale=scale)
    counts = [int((predicted == c).sum()) for c in range(len(names))]
    labels = [f"{name} ({count})" for name, count in zip(names, counts, strict=True)]
    label_grid_file(out, labels, images.shape[-2] * scale)
