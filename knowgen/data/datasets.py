"""Built-in datasets, each loaded whole into memory as one uint8 tensor.

The built-in sets are small (Fashion-MNIST is 47 MB as uint8), so indexing a tensor per batch is
far cheaper on a 2-core machine than a per-item `DataLoader` with worker processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from knowgen.cache import cache_dir
from knowgen.data.dataset import Dataset
from knowgen.data.idx import read_idx
from knowgen.data.subsets import limit_images, select_classes

log = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
]
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on. `None` sizes keep the dataset's native shape."""

    name: str = "fashion-mnist"
    path: str | None = None  # explicit location (the image directory for `folder`)
    split: Literal["train", "test"] = "train"
    image_size: int | None = None  # square side in pixels; None = native (folder: 64)
    channels: int | None = None  # 1 (grey) or 3 (RGB); None = native (folder: 3)
    classes: tuple[str | int, ...] | None = None  # only these classes (names or indices)
    limit: int | None = None  # train on this many images (seeded, class-balanced); None = all
    limit_seed: int = 0  # which images `limit` keeps (the same for every training seed)
    label: str | None = None  # emoji: what `class` means, "group" (default) or "subgroup"
    skin_tones: bool = False  # emoji: also the skin-tone variants (60% of images, one group)
    styles: tuple[str, ...] | None = None  # emoji: only these styles ("google", "twitter")

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise ValueError(f"unknown data.name {self.name!r}; choose from {sorted(DATASETS)}")
        if self.image_size is not None and not 4 <= self.image_size <= 1024:
            raise ValueError(f"data.image_size must be in [4, 1024], got {self.image_size}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"data.channels must be 1 or 3, got {self.channels}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"data.limit must be >= 1, got {self.limit}")
        if self.classes is not None and not self.classes:
            raise ValueError("data.classes is empty; leave it unset to keep every class")
        emoji_keys = {"label": self.label is not None, "skin_tones": self.skin_tones,
                      "styles": self.styles is not None}  # fmt: skip
        for key, given in emoji_keys.items():
            if given and self.name != "emoji":
                raise ValueError(
                    f"data.{key} is an emoji setting; data.name={self.name!r} has none"
                )
        if self.styles is not None:
            from knowgen.data.emoji import STYLES

            unknown = sorted(set(self.styles) - set(STYLES))
            if unknown or not self.styles:
                raise ValueError(f"data.styles {list(self.styles)}: choose among {list(STYLES)}")
        if self.label not in (None, "group", "subgroup"):
            raise ValueError(f"data.label {self.label!r}: choose 'group' or 'subgroup'")

    @property
    def source_key(self) -> str:
        """What names the images in cache keys: the dataset, or a folder by its path's hash."""
        if self.name != "folder":
            return self.name
        resolved = str(Path(self.path or "").expanduser().resolve())
        return f"folder-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"

    @property
    def subset_tag(self) -> str:
        """A cache-key suffix naming `classes` and `limit` ("" for the whole dataset)."""
        if self.classes is None and self.limit is None and self.styles is None:
            return ""
        subset = [list(self.classes or ()), self.limit, self.limit_seed]
        subset += [list(self.styles)] if self.styles is not None else []
        return "-subset-" + hashlib.sha256(json.dumps(subset).encode()).hexdigest()[:8]

    @property
    def whole(self) -> DataConfig:
        """The same dataset with every class and image: what the evaluator learns from."""
        return replace(self, classes=None, limit=None, styles=None)


def find_fashion_mnist(explicit: str | None = None) -> Path:
    """Find the Fashion-MNIST IDX files, in DESIGN.md's order, or say how to install them.

    Order: an explicit path, `$KNOWGEN_DATA` (the folder itself or its `fashion-mnist/`), the Debian
    package's folder, then the user cache.
    """
    if explicit:  # an explicit location is authoritative: never silently use another copy
        folder = Path(explicit).expanduser()
        if _has_idx_files(folder):
            return folder
        raise FileNotFoundError(
            f"no Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], ...) in {explicit!r}"
        )
    candidates: list[Path] = []
    env = os.environ.get("KNOWGEN_DATA")
    if env:
        candidates += [Path(env) / "fashion-mnist", Path(env)]
    candidates += [FASHION_MNIST_DEBIAN_DIR, cache_dir("datasets") / "fashion-mnist"]
    for folder in candidates:
        if _has_idx_files(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        "Fashion-MNIST not found (looked in "
        f"{looked}). Install it with `sudo apt-get install -y dataset-fashion-mnist`, or put the "
        "four IDX files in a folder and pass --set data.path=FOLDER or set KNOWGEN_DATA"
    )


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx_files(folder: Path) -> bool:
    return all(_idx_path(folder, s) for pair in _IDX_FILES.values() for s in pair)


def load_fashion_mnist(cfg: DataConfig) -> Dataset:
    """Fashion-MNIST (Xiao et al. 2017): 60k train / 10k test grey 28x28 garments, ten classes."""
    folder = find_fashion_mnist(cfg.path)
    image_stem, label_stem = _IDX_FILES[cfg.split]
    images = read_idx(_idx_path(folder, image_stem))  # type: ignore[arg-type]
    labels = read_idx(_idx_path(folder, label_stem))  # type: ignore[arg-type]
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{folder}: IDX images {images.shape} do not match labels {labels.shape}")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(
            f"{folder}: Fashion-MNIST IDX files hold uint8 images and labels, these hold "
            f"{images.dtype} and {labels.dtype}"
        )
    if len(labels) and int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise ValueError(
            f"{folder}: label {int(labels.max())} out of range 0..{len(FASHION_MNIST_CLASSES) - 1}"
        )
    return Dataset(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(FASHION_MNIST_CLASSES),
        name="fashion-mnist",
    )


def load_fashion_mnist_color(cfg: DataConfig) -> Dataset:
    """Fashion-MNIST with each garment tinted its own hue (RGB 28x28); the hue and saturation
    are attributes (see `knowgen.data.color`)."""
    from knowgen.data.color import color_factors, tint

    grey = load_fashion_mnist(cfg)
    hue, saturation = color_factors(len(grey), cfg.split)
    return Dataset(
        images=tint(grey.images, hue, saturation),
        labels=grey.labels,
        class_names=grey.class_names,
        name="fashion-mnist-color",
        attributes={"hue": hue, "saturation": saturation},
    )


def load_shapes(cfg: DataConfig) -> Dataset:
    """Procedural shapes with every factor known (see `knowgen.data.shapes`): the shape is the
    label; colour, size, position and rotation are attributes."""
    from knowgen.data.shapes import SHAPES, cached_shapes

    images, factors = cached_shapes(cfg.split)
    return Dataset(
        images=images,
        labels=factors["shape"],
        class_names=list(SHAPES),
        name="shapes",
        attributes={k: v for k, v in factors.items() if k != "shape"},
    )


def load_digits(cfg: DataConfig) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images); a fixed 80/20 train/test split."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(0.8 * len(images))
    index = order[:cut] if cfg.split == "train" else order[cut:]
    return Dataset(
        images=torch.from_numpy(images[index]).unsqueeze(1),
        labels=torch.from_numpy(bunch.target[index].astype(np.int64)),
        class_names=[str(d) for d in range(10)],
        name="digits",
    )


def load_emoji_dataset(cfg: DataConfig) -> Dataset:
    """Emoji in two styles, by group or subgroup; see `knowgen.data.emoji`."""
    from knowgen.data.emoji import load_emoji

    return load_emoji(cfg.split, cfg.label or "group", cfg.skin_tones, cfg.styles)


def load_folder_dataset(cfg: DataConfig) -> Dataset:
    """A user's image directory; see `knowgen.data.folder`."""
    from knowgen.data.folder import load_folder

    if not cfg.path:
        raise ValueError("data.name='folder' needs data.path (or pass --data DIRECTORY)")
    return load_folder(Path(cfg.path), image_size=cfg.image_size or 64, channels=cfg.channels or 3)


DATASETS: dict[str, Callable[[DataConfig], Dataset]] = {
    "fashion-mnist": load_fashion_mnist,
    "fashion-mnist-color": load_fashion_mnist_color,
    "digits": load_digits,
    "shapes": load_shapes,
    "folder": load_folder_dataset,
    "emoji": load_emoji_dataset,
}


FACTOR_DATASETS = ("shapes", "emoji")  # the datasets `known_factors` knows factors of


def known_factors(dataset: Dataset) -> dict[str, tuple[torch.Tensor, list[str]]]:
    """Each categorical factor a dataset knows besides its class, as (per-image index, the
    values' names): what factor classifiers learn and judge generated images by. `shapes`:
    size, position and rotation, binned; emoji: the style."""
    if dataset.name == "shapes":
        from knowgen.data.shapes import FACTOR_BINS, factor_labels

        labels = factor_labels(dataset.attributes)
        return {factor: (labels[factor], list(bins)) for factor, bins in FACTOR_BINS.items()}
    if dataset.name == "emoji":
        from knowgen.data.emoji import STYLES

        return {"style": (dataset.attributes["style"], list(STYLES))}
    return {}


def load_held_out_pairs(cfg: DataConfig) -> Dataset | None:
    """The images a dataset keeps out of training as held-out pairs of its own (emoji: a fixed
    10% of emoji, in the style training never shows them in), at the configured size; None
    for datasets without such pairs (`knowledge.holdout_pairs` names those of the others)."""
    if cfg.name != "emoji":
        return None
    from knowgen.data.emoji import load_emoji

    dataset = load_emoji("pairs", cfg.label or "group", cfg.skin_tones, cfg.styles)
    if cfg.classes is not None:
        dataset = select_classes(dataset, cfg.classes)
    dataset.images = _convert(dataset.images, cfg)
    return dataset


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load the dataset named in `cfg`, keep its configured classes (and, for the training
    split, its `limit` images), then bring it to the configured size and channels."""
    dataset = _load_subset(cfg)[0]
    dataset.images = _convert(dataset.images, cfg)
    log.info("loaded %s: %d images of shape %s", dataset.name, len(dataset), dataset.image_shape)
    return dataset


def load_held_out(cfg: DataConfig, num: int) -> Dataset | None:
    """Up to `num` real images of the configured classes that training never sees (at the
    configured size, with their labels): the training images `data.limit` left out, else the
    test split; None for a folder trained whole (it has no test split). D's output on them beside
    its output on training images is the overfitting signal."""
    if cfg.limit is not None:
        held_out = _load_subset(cfg)[1]
    elif cfg.name != "folder":
        held_out = _load_subset(replace(cfg, split="test"))[0]
    else:
        return None
    if held_out is None or not len(held_out):
        return None
    order = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(0))[:num]
    held_out = held_out.subset(order.sort().values)
    held_out.images = _convert(held_out.images, cfg)
    return held_out


def _load_subset(cfg: DataConfig) -> tuple[Dataset, Dataset | None]:
    """The configured subset of the dataset (native size), and what `limit` left out."""
    dataset = DATASETS[cfg.name](cfg)
    if cfg.classes is not None:
        dataset = select_classes(dataset, cfg.classes)
    if cfg.limit is None or cfg.split != "train":
        return dataset, None
    return limit_images(dataset, cfg.limit, cfg.limit_seed)


def _convert(images: torch.Tensor, cfg: DataConfig) -> torch.Tensor:
    if cfg.channels is not None and images.shape[1] != cfg.channels:
        images = convert_channels(images, cfg.channels)
    if cfg.image_size is not None and images.shape[-1] != cfg.image_size:
        images = resize_uint8(images, cfg.image_size)
    return images.contiguous()


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey -> RGB by repetition; RGB -> grey by ITU-R 601 luma (as Pillow's "L" mode)."""
    if channels == 3:
        return images.expand(-1, 3, -1, -1).clone()
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 images to `size` x `size` (bilinear, antialiased), once, in chunks."""
    out = []
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk].float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True)
        out.append(part.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)
