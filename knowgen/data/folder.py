"""A user's directory of images, decoded once into a uint8 tensor and cached.

Layout: either images directly in the folder (unlabelled) or one sub-folder per class. Unreadable
files are reported by name and skipped so that one bad JPEG never ends a long run.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from knowgen.cache import cache_dir, cached, store
from knowgen.data.dataset import Dataset

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_CACHE_VERSION = 2  # 2: the payload names each image's file


MAX_PIXELS = 64_000_000  # a larger image is a decompression bomb or a mistake: skipped


def inside(root: Path, path: Path) -> bool:
    """Whether `path` (after following links) lies within `root`: a link out of the dataset
    (a class folder that points at /usr) is not followed."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:  # a link loop
        return False


def list_images(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files under `root`, with class indices when the images sit in class sub-folders.
    Links that lead out of `root` are skipped with a warning."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist or is not a directory")
    entries = sorted(root.iterdir())
    outside = [p for p in entries if not inside(root, p)]
    if outside:
        log.warning("not following %d link(s) out of %s (e.g. %s)", len(outside), root, outside[0])
    entries = [p for p in entries if p not in outside]
    top = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    class_dirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if top or not class_dirs:
        files = top
        if not files:
            raise FileNotFoundError(
                f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {str(root)!r}"
            )
        return files, None, []
    files, labels = [], []
    for index, folder in enumerate(class_dirs):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and inside(root, path):
                files.append(path)
                labels.append(index)
    if not files:
        raise FileNotFoundError(f"no images found in the class folders of {str(root)!r}")
    return files, labels, [d.name for d in class_dirs]


def decode_image(path: Path, image_size: int, channels: int) -> np.ndarray:
    """Decode, centre-crop to a square, resize; returns uint8 (C, H, W)."""
    with Image.open(path) as img:
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"{img.width}x{img.height} pixels is more than {MAX_PIXELS:,}")
        img = ImageOps.exif_transpose(img)
        img = img.convert("RGB" if channels == 3 else "L")
        img = ImageOps.fit(img, (image_size, image_size), Image.Resampling.BICUBIC)
        array = np.asarray(img, dtype=np.uint8)
    return array.reshape(image_size, image_size, channels).transpose(2, 0, 1)


def _cache_key(root: Path, files: list[Path], image_size: int, channels: int) -> str:
    # file names need not be UTF-8: their bytes are hashed as the file system gave them
    head = f"{_CACHE_VERSION}|{root.resolve()}|{image_size}|{channels}"
    digest = hashlib.sha256(head.encode("utf-8", "surrogateescape"))
    for path in files:
        stat = path.stat()
        line = f"|{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:24]


def load_folder(root: Path, image_size: int = 64, channels: int = 3) -> Dataset:
    """Load every image under `root` at `image_size` px, using the decode cache when valid."""
    files, labels, class_names = list_images(root)
    cache_file = cache_dir("folders") / f"{_cache_key(root, files, image_size, channels)}.pt"

    def read(path: Path) -> Dataset:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        names = saved.get("files", [])
        return Dataset(saved["images"], saved["labels"], saved["class_names"], "folder", names)

    def build() -> Dataset:
        return decode_folder(root, files, labels, class_names, (image_size, channels), cache_file)

    return cached(cache_file, read, build, "decoded image folder")


def decode_folder(root: Path, files: list[Path], labels: list[int] | None,
                  class_names: list[str] | None, size_and_channels: tuple[int, int],
                  cache_file: Path) -> Dataset:  # fmt: skip
    """Decode every image of `files` (skipping unreadable ones, said once) into `cache_file`."""
    image_size, channels = size_and_channels
    decoded, kept_labels, kept_files, skipped = [], [], [], []
    for i, path in enumerate(tqdm(files, desc=f"decoding {root.name}", unit="img", leave=False)):
        try:
            decoded.append(decode_image(path, image_size, channels))
        except Exception as err:  # PIL raises many types for bad files
            skipped.append(path)
            log.warning("skipping unreadable image %s (%s)", path, type(err).__name__)
            continue
        kept_files.append(path.relative_to(root).as_posix())
        if labels is not None:
            kept_labels.append(labels[i])
    if skipped:
        log.warning("skipped %d unreadable image(s) of %d in %s", len(skipped), len(files), root)
    if not decoded:
        raise ValueError(f"none of the {len(files)} images in {str(root)!r} could be read")

    images = torch.from_numpy(np.stack(decoded))
    label_tensor = torch.tensor(kept_labels, dtype=torch.int64) if labels is not None else None
    payload = {
        "images": images,
        "labels": label_tensor,
        "class_names": class_names,
        "files": kept_files,
    }
    store(cache_file, lambda tmp: torch.save(payload, tmp))
    return Dataset(images, label_tensor, class_names, "folder", kept_files)
