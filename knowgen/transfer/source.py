"""Generative transfer (`transfer.source`): a new run's G, D and EMA start from a knowgen model
trained on related data (other classes, another style), as in "Transferring GANs" (Wang et al.
2018) and FreezeD (Mo et al. 2020): with a few hundred images, a pretrained start matters more
than any augmentation.

The classifier keeps a job: a class the source never had starts from the source classes the
teacher says its images look like (`class_start = "teacher"`), weighting their embedding rows by
its mean soft prediction. Everything here runs once, when a run starts; a resumed run reads its
own checkpoint and never the source again.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from knowgen.checkpoint import load_checkpoint, newest_intact_checkpoint
from knowgen.generator_files import GENERATOR_SECTIONS, META_NAME, read_generator_source
from knowgen.images import to_float
from knowgen.knowledge.encoders import ClassEncoder
from knowgen.models.layers import ConditionalBatchNorm2d
from knowgen.transfer.config import TransferConfig

log = logging.getLogger(__name__)

NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, ConditionalBatchNorm2d)
TARGET_ONLY = ("aided.",)  # the vision-aided second D: this run's own, never the source's


@dataclass
class Source:
    """A trained model read for transfer: its config sections, image shape, class names and
    weights (`discriminator` is None for an export, which holds G only)."""

    path: Path
    config: dict[str, Any]
    image_shape: tuple[int, int, int]
    class_names: list[str]
    step: int
    generator: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor] | None


def read_source(path: str | Path) -> Source:
    """The model at `path`: a run directory (its newest intact checkpoint), a checkpoint file or
    an export folder; read without unpickling code."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"transfer.source {str(path)!r} does not exist (give a run directory, a checkpoint "
            "or an export folder)"
        )
    if (path / META_NAME).is_file() or path.suffix == ".safetensors":
        meta, weights = read_generator_source(path)
        config = {section: meta.get(section, {}) for section in GENERATOR_SECTIONS}
        return Source(path, config, tuple(meta["image_shape"]), list(meta["class_names"]),
                      int(meta.get("step", 0)), weights, weights, None)  # fmt: skip
    if path.is_dir():
        found = newest_intact_checkpoint(path)
        if found is None:
            raise FileNotFoundError(
                f"transfer.source {str(path)!r} holds no intact checkpoint (checkpoints/step-*.pt)"
            )
        path, payload = found
    else:
        payload = load_checkpoint(path)
    return Source(
        path,
        payload["config"],
        tuple(payload["image_shape"]),
        list(payload.get("class_names", [])),
        int(payload["step"]),
        payload["generator"],
        payload["ema_generator"],
        payload["discriminator"],
    )


def class_rows(network: nn.Module) -> set[str]:
    """Names of the tensors that hold one row per class (class embeddings, the ACGAN head):
    what a source with other classes hands over row by row through the class map."""
    names = set()
    for name, module in network.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(module, ClassEncoder) and module.key == "class":
            names.add(f"{prefix}table.weight")
        if name.rsplit(".", 1)[-1] == "aux_head" and isinstance(module, nn.Linear):
            names |= {f"{prefix}weight", f"{prefix}bias"}
    return names


def class_map(source: Source, names: list[str], labels: torch.Tensor | None,
              images: torch.Tensor | None, cfg: TransferConfig) -> torch.Tensor | None:  # fmt: skip
    """(this run's classes, source classes) weights: a class the source had copies its row; a new
    class is the teacher's mean soft prediction over its images (`class_start = "teacher"`) or a
    row of NaN, which keeps this run's fresh initialisation (`"random"`). None when either side
    has no classes."""
    if not source.class_names or not names:
        return None
    weights = torch.full((len(names), len(source.class_names)), math.nan)
    new = []
    for i, name in enumerate(names):
        if name in source.class_names:
            weights[i] = 0.0
            weights[i, source.class_names.index(name)] = 1.0
        else:
            new.append(i)
    if new and cfg.class_start == "teacher" and labels is not None and images is not None:
        soft = teacher_predictions(source, images, cfg)
        for i in new:
            weights[i] = soft[labels == i].mean(0)
    return weights


def teacher_predictions(source: Source, images: torch.Tensor, cfg: TransferConfig) -> torch.Tensor:
    """Soft predictions over the source's classes for `images` (uint8), by the teacher trained on
    the source's data (knowgen's, cached; or `transfer.teacher`, which must know those classes)."""
    from knowgen.config import build_config  # the run config imports this package
    from knowgen.transfer.teachers import load_or_train_teacher

    source_data = build_config(source.config).data
    teacher_cfg = replace(cfg, modes=(), teacher_classes=None)
    teacher = load_or_train_teacher(replace(source_data, split="train"), teacher_cfg)
    if teacher.net.classifier.out_features != len(source.class_names):
        raise ValueError(
            f"the teacher knows {teacher.net.classifier.out_features} classes, the source "
            f"{len(source.class_names)}: transfer.teacher must be a classifier of the source's"
        )
    with torch.no_grad():
        return torch.cat([teacher.net(to_float(batch)).softmax(1) for batch in images.split(256)])


def describe_class_map(weights: torch.Tensor, names: list[str], source_names: list[str]) -> dict:
    """{new class: {source class: weight}} for the classes the map starts from the teacher
    (the three largest weights): what `knowgen info` and the log show."""
    out = {}
    for i, name in enumerate(names):
        row = weights[i]
        if name in source_names or bool(row.isnan().any()):
            continue
        top = row.topk(min(3, len(row)))
        out[name] = {source_names[j]: round(float(w), 3) for w, j in zip(*top, strict=True)}
    return out


def start_from_source(
    networks: dict[str, nn.Module], source: Source, weights: torch.Tensor | None
) -> None:
    """Load `networks` ({"generator", "ema", "discriminator"}) from the source; class rows go
    through `weights` (`class_map`); tensors this run adds for itself (the vision-aided D) keep
    their fresh values. A source without D (an export) leaves D fresh."""
    stored = {"generator": source.generator, "ema": source.ema,
              "discriminator": source.discriminator}  # fmt: skip
    for role, network in networks.items():
        if stored[role] is not None:
            load_matching(network, stored[role], weights, role)


def load_matching(
    network: nn.Module, theirs: dict[str, torch.Tensor], weights: torch.Tensor | None, role: str
) -> None:
    """`theirs` into `network`: the same tensors by name and shape, except class rows (mapped)."""
    own = network.state_dict()
    rows = class_rows(network)
    mine = {k for k in own if not k.startswith(TARGET_ONLY)}
    theirs = {k: v for k, v in theirs.items() if not k.startswith(TARGET_ONLY)}
    differ = sorted(mine ^ set(theirs))
    if differ:
        raise SourceMismatch(role, differ[0], own.get(differ[0]), theirs.get(differ[0]))
    loaded = {}
    for key in mine:
        tensor = theirs[key]
        if key in rows and weights is not None and tensor.shape[1:] == own[key].shape[1:]:
            tensor = mapped_rows(own[key], tensor, weights)
        if tensor.shape != own[key].shape:
            raise SourceMismatch(role, key, own[key], tensor)
        loaded[key] = tensor
    network.load_state_dict(loaded, strict=False)


def mapped_rows(own: torch.Tensor, theirs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """This run's rows: each a weighted sum of the source's rows, or its own where the map's row
    is NaN (a new class started at random)."""
    if weights.shape != (len(own), len(theirs)):
        raise SourceMismatch("class rows", "", own, theirs)
    out = own.clone()
    flat = theirs.reshape(len(theirs), -1).to(own.dtype)
    for i, row in enumerate(weights):
        if not bool(row.isnan().any()):
            out[i] = (row.to(own.dtype) @ flat).view_as(own[i])
    return out


class SourceMismatch(ValueError):
    """The source's networks are not this run's: which tensor differs (`describe` names the
    config key behind it)."""

    def __init__(self, role: str, key: str, own: torch.Tensor | None, theirs: torch.Tensor | None):
        self.role, self.key = role, key
        shape = lambda t: "absent" if t is None else tuple(t.shape)  # noqa: E731
        super().__init__(
            f"the {role}'s tensor {key!r} is {shape(theirs)} in the source, {shape(own)} here"
        )


def mismatch_reason(source: Source, cfg: Any, image_shape: tuple[int, ...]) -> str | None:
    """The first setting that makes the source's networks differ from this run's: the image
    shape, or a `model.` / `knowledge.` key (None when the configs agree on all of them)."""
    from knowgen.config import build_config

    if tuple(source.image_shape) != tuple(image_shape):
        return (
            f"the source makes {'x'.join(map(str, source.image_shape))} images, this run "
            f"{'x'.join(map(str, image_shape))} (data.image_size and the channels must match)"
        )
    try:
        theirs = build_config(source.config)
    except ValueError:
        return None
    for section in ("model", "knowledge"):
        mine_section, their_section = getattr(cfg, section), getattr(theirs, section)
        for key in mine_section.__dataclass_fields__:
            mine, other = getattr(mine_section, key), getattr(their_section, key)
            if mine != other:
                return f"{section}.{key} is {other!r} in the source, {mine!r} here"
    return None


def check_fits(
    source: Source, cfg: Any, image_shape: tuple[int, ...], err: SourceMismatch | None
) -> None:
    """Raise one line naming the key in which source and run differ (else the tensor)."""
    reason = mismatch_reason(source, cfg, image_shape) or str(err)
    raise ValueError(
        f"transfer.source {str(source.path)!r} does not fit this run: {reason}; a source must "
        "have this run's architecture"
    ) from None


def tuned_first(generator: nn.Module) -> list[nn.Parameter]:
    """G's class embedding and normalisation layers (batch, group, layer and conditional norms):
    what `transfer.tune_g = "class-and-norm"` trains for its first `tune_g_steps` steps."""
    out: dict[int, nn.Parameter] = {}
    for module in generator.modules():
        if isinstance(module, (ClassEncoder, *NORM_LAYERS)):
            out |= {id(p): p for p in module.parameters()}
    return list(out.values())


def tune_generator(generator: nn.Module, restricted: bool) -> None:
    """All of G trainable, or only `tuned_first(G)`."""
    generator.requires_grad_(not restricted)
    if restricted:
        for parameter in tuned_first(generator):
            parameter.requires_grad_(True)


def discriminator_blocks(discriminator: nn.Module) -> list[list[nn.Module]]:
    """D's trunk blocks from the image inwards (its heads are not blocks: they always train):
    each stride-2 stage with its norm, activation and attention (dcgan, sagan), or the stem then
    each residual block with its transition (resnet)."""
    if hasattr(discriminator, "from_image"):
        blocks = [[discriminator.from_image]]
        transitions = list(discriminator.transitions)
        for i, block in enumerate(discriminator.blocks):
            blocks.append([block, *transitions[i : i + 1]])
        return blocks
    trunk = getattr(discriminator, "trunk", None)
    if trunk is None and isinstance(getattr(discriminator, "net", None), nn.Sequential):
        trunk = discriminator.net[:-1]  # dcgan: its last convolution is the logit head
    if not isinstance(trunk, nn.Sequential):
        raise ValueError(f"transfer.freeze_d: {type(discriminator).__name__} has no blocks")
    groups: list[list[nn.Module]] = []
    for layer in trunk:
        if isinstance(layer, nn.Conv2d) or not groups:
            groups.append([layer])
        else:
            groups[-1].append(layer)
    return groups


def freeze_blocks(discriminator: nn.Module, k: int) -> None:
    """FreezeD: D's first `k` blocks keep their (source) weights; its heads train."""
    blocks = discriminator_blocks(discriminator)
    if k > len(blocks):
        raise ValueError(f"transfer.freeze_d={k}, but D has {len(blocks)} blocks")
    for block in blocks[:k]:
        for module in block:
            module.requires_grad_(False)


def tunes_g_first(cfg: TransferConfig, step: int) -> bool:
    """Whether `step` is in the phase where only G's class embedding and norms train."""
    return cfg.tune_g != "all" and step < cfg.tune_g_steps


def begin_from_source(cfg: Any, state: Any, dataset: Any, run_dir: Path, world: Any) -> None:
    """A fresh run's G, EMA and D from `cfg.transfer.source` (every rank reads the same file, so
    all start alike), its new classes started as `class_start` says; rank 0 records what was
    taken in `transfer.json` (`knowgen info` shows it)."""
    from knowgen.files import atomic_write_text

    source = read_source(cfg.transfer.source)
    if tuple(source.image_shape) != tuple(dataset.image_shape):  # before any teacher runs
        check_fits(source, cfg, dataset.image_shape, None)
    names = list(dataset.class_names)
    weights = None  # an unconditional model has no class rows: no teacher is asked
    if class_rows(state.generator) or class_rows(state.discriminator):
        weights = class_map(source, names, dataset.labels, dataset.images, cfg.transfer)
    networks = {"generator": state.generator, "ema": state.ema.model,
                "discriminator": state.discriminator}  # fmt: skip
    try:
        start_from_source(networks, source, weights)
    except SourceMismatch as err:
        check_fits(source, cfg, dataset.image_shape, err)
    started = {} if weights is None else describe_class_map(weights, names, source.class_names)
    has_d = source.discriminator is not None
    record = {
        "source": str(source.path),
        "source_step": source.step,
        "source_classes": source.class_names,
        "discriminator": "from the source" if has_d else "fresh (an export holds G only)",
        "freeze_d": cfg.transfer.freeze_d,
        "tune_g": cfg.transfer.tune_g,
        "class_start": cfg.transfer.class_start,
        "new_classes": started,
    }
    log.info("transfer: G and its EMA start from %s (step %d), D %s", source.path, source.step,
             record["discriminator"])  # fmt: skip
    for name, parts in started.items():
        log.info("class start: %s <- %s", name,
                 " + ".join(f"{w:.2f} {n}" for n, w in parts.items()))  # fmt: skip
    if world.is_main:
        atomic_write_text(run_dir / "transfer.json", json.dumps(record, indent=1) + "\n")
