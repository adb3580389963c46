"""The evaluator: a classifier trained by knowgen on a dataset, used only to judge generators.

Inception-v3 FID needs weights from the web and was trained on photographs; on small domains
(garments, digits) research instead judges in the feature space of a classifier trained on that
domain. The evaluator is that classifier. It is trained reproducibly (fixed seed, fixed recipe) on
first need, cached under `$KNOWGEN_CACHE/evaluators/`, and keyed by dataset, image shape and a hash
of its recipe, so a changed recipe can never be confused with an old network. It is never used as
a training signal: the *teacher* of knowledge transfer is a different network (other seed and
architecture).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from knowgen.cache import cache_dir, cached, read_tensors, store, write_tensors
from knowgen.data import DataConfig, Dataset, load_dataset
from knowgen.data.datasets import FACTOR_DATASETS, known_factors
from knowgen.data.subsets import resolve_classes
from knowgen.metrics.classifier_training import classifier_accuracy, train_classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluatorRecipe:
    """Everything that determines the evaluator's weights; its hash names the cache entry."""

    architecture: str = "evalnet-v2"
    widths: tuple[int, int, int] = (32, 64, 128)
    depths: tuple[int, int, int] = (1, 1, 1)  # convolutions per stage
    num_features: int = 256
    epochs: int = 8
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    max_shift_px: int = 1  # random translation augmentation
    use_hflip: bool = True  # random left-right flips (garments; never for digits or text)
    seed: int = 20_240_917

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


DEFAULT_RECIPE = EvaluatorRecipe()
RECIPES: dict[str, EvaluatorRecipe] = {
    "fashion-mnist": DEFAULT_RECIPE,
    "digits": EvaluatorRecipe(use_hflip=False, epochs=10, batch_size=64),  # a mirrored 3 is no 3
    # flat shapes on black are easy to tell apart, but a flip or a shift changes their rotation
    # and position, which the factor classifiers judge
    "shapes": EvaluatorRecipe(widths=(16, 32, 64), epochs=4, max_shift_px=0, use_hflip=False),
    # 3,231 training emoji: more passes over them; a mirrored apple is still food, and an
    # emoji's style survives a flip
    "emoji": EvaluatorRecipe(epochs=20, batch_size=64, max_shift_px=2),
}


def recipe_for(dataset_name: str) -> EvaluatorRecipe:
    """The dataset's evaluator recipe; user folders get the default (flips included)."""
    return RECIPES.get(dataset_name, DEFAULT_RECIPE)


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


class EvaluatorNet(nn.Module):
    """Conv-BN-ReLU stages with 2x max-pooling, then a hidden dense layer -> logits.

    The dense layer's activations are the features (their grid is flattened rather than averaged:
    where a garment's parts sit matters). Works at any size (8 px digits to 64 px folders): the
    last grid is pooled to at most 7x7.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        widths: tuple[int, ...] = (32, 64, 128),
        depths: tuple[int, ...] = (1, 1, 1),
        num_features: int = 256,
    ) -> None:
        super().__init__()
        channels, side, _ = image_shape
        layers: list[nn.Module] = []
        for i, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            layers += conv_bn_relu(channels, width)
            for _ in range(depth - 1):
                layers += conv_bn_relu(width, width)
            if i < len(widths) - 1 and side >= 4:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            channels = width
        grid = min(side, 7)
        self.features = nn.Sequential(
            *layers,
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
            nn.Linear(channels * grid * grid, num_features),
            nn.ReLU(True),
        )
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(num_features, num_classes)
        self.num_features = num_features

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) in [-1, 1] -> (features (B, F), logits (B, K))."""
        features = self.features(x)
        return features, self.classifier(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[1]


@dataclass
class Evaluator:
    """The trained network with what identifies and qualifies it."""

    net: EvaluatorNet
    key: str
    test_accuracy: float
    class_names: list[str]
    image_shape: tuple[int, int, int]
    columns: list[int] | None = None  # a class subset's logits (None: every class)

    def restricted(self, classes: tuple[str | int, ...] | None) -> Evaluator:
        """The same network judging among `classes` only (`data.classes`): its logits are those
        classes' columns, in that order, so labels of the subset (0..k-1) index them. Features,
        hence FID, are unchanged; accuracy is among the run's classes."""
        if classes is None:
            return self
        columns = resolve_classes(self.class_names, classes)
        digest = hashlib.sha256(json.dumps(columns).encode()).hexdigest()[:8]
        names = [self.class_names[i] for i in columns]
        key = f"{self.key}-classes-{digest}"
        return replace(self, key=key, class_names=names, columns=columns)


def evaluator_key(data_cfg: DataConfig, image_shape, recipe: EvaluatorRecipe) -> str:
    shape = "x".join(str(s) for s in image_shape)
    return f"{data_cfg.source_key}-{shape}-{recipe.architecture}-{recipe.key()}"


def load_or_train_evaluator(
    data_cfg: DataConfig, recipe: EvaluatorRecipe | None = None
) -> Evaluator:
    """The cached evaluator for `data_cfg`'s dataset and image shape, trained on first need on
    every class and image (it judges; a run's `data.classes` only restricts its logits).

    Training it leaves the caller's global RNG untouched (a training run that evaluates keeps its
    trajectory).
    """
    with torch.random.fork_rng():
        evaluator = _load_or_train(data_cfg.whole, recipe or recipe_for(data_cfg.name))
    return evaluator.restricted(data_cfg.classes)


def _load_or_train(data_cfg: DataConfig, recipe: EvaluatorRecipe) -> Evaluator:
    train_set, key, net = _untrained_evaluator(data_cfg, recipe)
    record = load_or_train_classifier(
        net,
        key,
        "evaluators",
        train_set,
        lambda: _test_split_or_holdout(replace(data_cfg, split="test"), train_set),
        recipe,
        {"dataset": data_cfg.name, "command": evaluator_command(data_cfg)},
        shipped=SHIPPED_EVALUATORS,
        half=True,
    )
    return Evaluator(
        net.eval(), key, record["test_accuracy"], train_set.class_names, train_set.image_shape
    )


def train_evaluator(data_cfg: DataConfig, folder: Path) -> tuple[Evaluator, dict]:
    """Train the dataset's evaluator afresh by its recipe into `folder` (the cache, or
    knowgen/metrics/evaluators to ship it), whatever is cached or shipped; with its record."""
    data_cfg = data_cfg.whole
    recipe = recipe_for(data_cfg.name)
    train_set, key, net = _untrained_evaluator(data_cfg, recipe)
    with torch.random.fork_rng():
        record = train_and_save_classifier(
            net,
            key,
            folder,
            train_set,
            lambda: _test_split_or_holdout(replace(data_cfg, split="test"), train_set),
            recipe,
            {"dataset": data_cfg.name, "command": evaluator_command(data_cfg)},
            half=True,
        )
    classes = train_set.class_names
    return Evaluator(net, key, record["test_accuracy"], classes, train_set.image_shape), record


def _untrained_evaluator(
    data_cfg: DataConfig, recipe: EvaluatorRecipe
) -> tuple[Dataset, str, EvaluatorNet]:
    """The training set, the cache key and a fresh network of the dataset's evaluator."""
    train_set = load_dataset(replace(data_cfg, split="train"))
    if train_set.labels is None:
        raise ValueError(
            f"dataset {data_cfg.name!r} has no labels; the evaluator is a classifier and needs "
            "class sub-folders (or a labelled dataset)"
        )
    key = evaluator_key(data_cfg, train_set.image_shape, recipe)
    num_classes = len(train_set.class_names) or int(train_set.labels.max()) + 1
    return train_set, key, seeded_classifier(train_set.image_shape, num_classes, recipe)


def seeded_classifier(
    image_shape: tuple[int, int, int], num_classes: int, recipe: EvaluatorRecipe
) -> EvaluatorNet:
    """A fresh network of `recipe`, its initial weights drawn from the recipe's seed too (so a
    retrained evaluator is the recipe's, whatever ran before); the caller's RNG is untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(recipe.seed)
        return EvaluatorNet(
            image_shape, num_classes, recipe.widths, recipe.depths, recipe.num_features
        )


def evaluator_command(data_cfg: DataConfig) -> str:
    """The command that trains this evaluator again, by the same recipe."""
    command = f"knowgen evaluator train {data_cfg.name}"
    if data_cfg.name == "folder":
        command = f"knowgen evaluator train {data_cfg.path}"
    for key in ("image_size", "channels"):
        if getattr(data_cfg, key) is not None:
            command += f" --set data.{key}={getattr(data_cfg, key)}"
    return command


def load_or_train_factor_classifiers(
    data_cfg: DataConfig, retrain_into: Path | None = None
) -> dict[str, Evaluator]:
    """One classifier per categorical factor a dataset knows (`data.known_factors`: on
    `shapes` size, position and rotation; on emoji the style), shipped or trained like the
    evaluator on first need and cached; {} for any other dataset. They judge whether generated
    images show the factor that was asked for. `retrain_into` trains them afresh into that
    folder (`knowgen evaluator train`)."""
    if data_cfg.name not in FACTOR_DATASETS:
        return {}
    data_cfg = data_cfg.whole  # factors are judged on every image, as the evaluator
    with torch.random.fork_rng():
        recipe = recipe_for(data_cfg.name)
        train_set = load_dataset(replace(data_cfg, split="train"))
        test_set = load_dataset(replace(data_cfg, split="test"))
        train_factors, test_factors = known_factors(train_set), known_factors(test_set)
        command = evaluator_command(data_cfg)
        out = {}
        stem = evaluator_key(data_cfg, train_set.image_shape, recipe)
        for factor, (labels, bins) in train_factors.items():
            key = f"{stem}-{factor}"
            net = seeded_classifier(train_set.image_shape, len(bins), recipe)
            args = (
                replace(train_set, labels=labels, class_names=bins),
                lambda f=factor, b=bins: replace(
                    test_set, labels=test_factors[f][0], class_names=b
                ),
                recipe,
                {"dataset": data_cfg.name, "factor": factor, "command": command},
            )
            if retrain_into is not None:
                record = train_and_save_classifier(net, key, retrain_into, *args, half=True)
            else:
                record = load_or_train_classifier(
                    net, key, "evaluators", *args, shipped=SHIPPED_EVALUATORS, half=True
                )
            out[factor] = Evaluator(
                net.eval(), key, record["test_accuracy"], list(bins), train_set.image_shape
            )
        return out


# Evaluators trained by `knowgen evaluator train DATASET --out knowgen/metrics/evaluators`,
# shipped with the package: a first evaluation loads one in well under a second instead of
# training it for minutes. A file is used only when its name (dataset, shape, recipe hash) matches.
SHIPPED_EVALUATORS = Path(__file__).resolve().parent / "evaluators"


def load_or_train_classifier(
    net: nn.Module,
    key: str,
    kind: str,
    train_set: Dataset,
    test_set: Callable[[], Dataset],
    recipe: EvaluatorRecipe,
    meta: dict | None = None,
    shipped: Path | None = None,
    half: bool = False,
) -> dict:
    """Fill `net` from `shipped/<key>` (read-only package data) or the cache entry
    `$KNOWGEN_CACHE/<kind>/<key>`, or train it by `recipe` (with a progress bar) and store it in
    the cache. Returns the entry's record: `test_accuracy`, `train_seconds` (what training it
    cost, once), the recipe and `meta`. A damaged entry is retrained, never trusted. `half` stores
    float weights as float16 (half the size; the accuracy recorded is the rounded network's).
    Shared by the evaluator and the transfer teacher."""

    def read(weights: Path) -> dict:
        record = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
        net.load_state_dict(read_tensors(weights))
        return record

    if shipped is not None and (shipped / f"{key}.safetensors").is_file():
        try:
            return read(shipped / f"{key}.safetensors")
        except Exception as err:  # package data is never deleted: the cache takes over
            log.warning("not using the shipped %s %s: unreadable (%s)", kind, key, err)

    def build() -> dict:
        passes = recipe.epochs * len(train_set)  # Fashion-MNIST's 480,000 took ~9 min on 2 cores
        log.info(
            "no shipped or cached %s %s: training it once by knowgen's recipe (%d epochs over "
            "%d images: about %.1f minutes on 2 CPU cores; cached afterwards)",
            kind, key, recipe.epochs, len(train_set), max(passes / 53_000, 0.1),
        )  # fmt: skip
        return train_and_save_classifier(
            net, key, cache_dir(kind), train_set, test_set, recipe, meta, half, kind
        )

    return cached(cache_dir(kind) / f"{key}.safetensors", read, build, kind.removesuffix("s"))


def train_and_save_classifier(
    net: nn.Module,
    key: str,
    folder: Path,
    train_set: Dataset,
    test_set: Callable[[], Dataset],
    recipe: EvaluatorRecipe,
    meta: dict | None = None,
    half: bool = False,
    kind: str = "evaluators",
) -> dict:
    """Train `net` by `recipe`, measure its test accuracy and write `folder/<key>.safetensors`
    and `.json` (the record; a failed write is a warning, as for any cache entry); returns the
    record."""
    start = time.perf_counter()
    train_classifier(net, train_set, recipe, desc=kind.removesuffix("s"))
    seconds = time.perf_counter() - start
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        net.load_state_dict(state)  # the network judged from now on is the rounded one
    accuracy = classifier_accuracy(net, test_set())
    log.info("%s %s: test accuracy %.2f%% after %.0f s", kind, key, 100 * accuracy, seconds)
    record = {"test_accuracy": accuracy, "train_seconds": seconds, "recipe": asdict(recipe)}
    record |= meta or {}
    # the record first: the weights publish the entry, and a reader never finds them alone
    text = json.dumps(record, indent=2) + "\n"
    store(folder / f"{key}.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    write_tensors(folder / f"{key}.safetensors", state)
    net.eval()
    return record


def _test_split_or_holdout(test_cfg: DataConfig, train_set: Dataset) -> Dataset:
    if test_cfg.name != "folder":
        return load_dataset(test_cfg)
    return train_set  # a folder has no test split: the accuracy printed is training accuracy
