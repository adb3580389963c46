"""Emoji: real colour pictures with real knowledge, the same object drawn in two styles.

Two npm packages carry them (`knowgen data fetch emoji` fetches both, see `data.npm`):
Noto Emoji (`emoji-datasource-google`, Apache-2.0) and Twemoji (`emoji-datasource-twitter`,
CC-BY-4.0), each 64x64 RGBA PNGs of the same 1,911 emoji plus their skin-tone variants, and an
`emoji.json` naming each one (name, short names, Unicode group and subgroup).

What an image carries: its group (ten Unicode groups; "Component", the bare skin swatches, is
left out) and subgroup (class = either, `data.label`), its name (the text knowledge), its style
(google / twitter: the maker) and its skin tone (0 = none or the default yellow, 1-5 =
Fitzpatrick types 1-2 to 6; for a two-person emoji, the first person's). RGB is composited on
white from the alpha channel: emoji are drawn to sit on a page, and white is what every viewer
shows them on.

Splits are by emoji, never by image, so a test emoji is unseen in every style and tone: a hash
of its code point picks a fixed 10% for `test`. Of the rest, a fixed ~10% are *held-out pairs*:
in training they appear in one style only (which one, also by hash); generating them in the
other style is the test of fusion (`load_emoji(cfg, "pairs")` gives those images).

Skin-tone variants are off by default (`data.skin_tones`): they are near-copies (60% of all
images, all of group "People & Body") that would swamp the other groups.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from knowgen.cache import cache_dir, cached, store
from knowgen.data.npm import NpmPackage, data_home, verify

log = logging.getLogger(__name__)

VERSION = "16.0.0"
PACKAGES = {
    "google": NpmPackage(
        "emoji-datasource-google",
        VERSION,
        "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A==",
    ),
    "twitter": NpmPackage(
        "emoji-datasource-twitter",
        VERSION,
        "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==",
    ),
}
STYLES = tuple(PACKAGES)  # the style index of an image is its position here
LICENCES = {"google": "Apache-2.0 (Noto Emoji)", "twitter": "CC-BY-4.0 (Twemoji)"}
GROUPS = (  # Unicode's order; "Component" (skin swatches, hair pieces) is never a class
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
)
SKIN_TONES = {"1F3FB": 1, "1F3FC": 2, "1F3FD": 3, "1F3FE": 4, "1F3FF": 5}
NATIVE_SIZE = 64
TEST_SHARE = 10  # 1 emoji in 10 is test
CACHE_FORMAT = 1  # bump when the cached arrays change meaning


class EmojiDataMissing(FileNotFoundError):
    """The emoji tarballs are not in the data folder."""


def emoji_folder() -> Path:
    return data_home("emoji")


def tarball_paths() -> dict[str, Path]:
    """Each style's tarball, or one line saying how to get them."""
    folder = emoji_folder()
    paths = {style: folder / package.tarball for style, package in PACKAGES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise EmojiDataMissing(
            f"emoji data not found ({', '.join(missing)}): run `knowgen data fetch emoji` "
            "(needs npm once; or --from DIR with the two tarballs)"
        )
    return paths


@dataclass(frozen=True)
class EmojiTable:
    """Every emoji of emoji.json (Component included), in the file's sort order."""

    codes: tuple[str, ...]  # "1F600"
    names: tuple[str, ...]  # "grinning face"
    short_names: tuple[tuple[str, ...], ...]  # ("grinning",)
    groups: tuple[str, ...]
    subgroups: tuple[str, ...]
    images: tuple[tuple[tuple[str, int], ...], ...]  # (file name, skin tone): base first

    @property
    def subgroup_names(self) -> list[str]:
        """Subgroups of the classed groups, in Unicode order (a subgroup lies in one group)."""
        return list(dict.fromkeys(s for s, g in zip(self.subgroups, self.groups, strict=True)
                                  if g in GROUPS))  # fmt: skip

    def group_of_subgroup(self, subgroup: str) -> str:
        return self.groups[self.subgroups.index(subgroup)]


def parse_table(raw: bytes) -> EmojiTable:
    """emoji.json -> EmojiTable (sorted by Unicode's `sort_order`)."""
    entries = sorted(json.loads(raw), key=lambda e: e["sort_order"])
    images = []
    for entry in entries:
        files = [(entry["image"], 0)]
        for tones, variant in (entry.get("skin_variations") or {}).items():
            files.append((variant["image"], SKIN_TONES[tones.split("-")[0]]))
        images.append(tuple(files))
    return EmojiTable(
        codes=tuple(e["unified"] for e in entries),
        names=tuple(e["name"].lower() for e in entries),
        short_names=tuple(tuple(s.replace("_", " ") for s in e["short_names"]) for e in entries),
        groups=tuple(e["category"] for e in entries),
        subgroups=tuple(e["subcategory"] for e in entries),
        images=tuple(images),
    )


def emoji_part(code: str) -> str:
    """Which part an emoji belongs to, fixed by its code point: "test" (10%), "pair-google" /
    "pair-twitter" (held-out pairs: in training only in that style; ~10%), or "train"."""
    digest = hashlib.sha256(code.encode()).digest()
    bucket = digest[0] % TEST_SHARE
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "pair-" + STYLES[digest[1] % len(STYLES)]
    return "train"


@lru_cache(maxsize=1)
def emoji_table() -> EmojiTable:
    """The table of the google tarball (both packages ship the same emoji.json)."""
    with tarfile.open(tarball_paths()["google"], "r:gz") as tar:
        member = tar.extractfile("package/emoji.json")
        if member is None:
            raise ValueError(f"{tarball_paths()['google']}: no package/emoji.json inside")
        return parse_table(member.read())


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA -> (H, W, 3) uint8 RGB over white (alpha compositing, rounded)."""
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.rint(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def decode_tarball(path: Path, style: str, wanted: set[str]) -> dict[str, np.ndarray]:
    """{file name: (64, 64, 3) uint8 on white} for the `wanted` images of one style's tarball,
    in one pass over the gzip stream (a tgz has no index to seek in)."""
    from PIL import Image

    prefix = f"package/img/{style}/{NATIVE_SIZE}/"
    out: dict[str, np.ndarray] = {}
    with (
        tarfile.open(path, "r:gz") as tar,
        tqdm(
            total=len(wanted), desc=f"decoding {style} emoji", unit="img", leave=False
        ) as progress,
    ):
        for member in tar:
            name = member.name.removeprefix(prefix)
            if not member.name.startswith(prefix) or name not in wanted:
                continue
            data = tar.extractfile(member)
            with Image.open(io.BytesIO(data.read() if data else b"")) as picture:
                rgba = np.asarray(picture.convert("RGBA"))
            if rgba.shape != (NATIVE_SIZE, NATIVE_SIZE, 4):
                raise ValueError(f"{path}: {member.name} is {rgba.shape[:2]}, not 64x64")
            out[name] = composite_on_white(rgba)
            progress.update()
    missing = wanted - out.keys()
    if missing:
        raise ValueError(f"{path}: {len(missing)} images missing, e.g. {sorted(missing)[0]}")
    return out


def cached_arrays() -> dict[str, np.ndarray]:
    """Every image of both styles at 64 px as one uint8 array, with what each is: `images`
    (N, 64, 64, 3), `emoji` (index into the table), `style`, `skin`. Built once from the
    verified tarballs into the cache; a damaged cache file is rebuilt with a warning."""
    paths = tarball_paths()
    key = hashlib.sha256(
        json.dumps([CACHE_FORMAT, [p.integrity for p in PACKAGES.values()]]).encode()
    ).hexdigest()[:12]
    path = cache_dir("datasets") / f"emoji-{key}.npz"

    def read(path: Path) -> dict[str, np.ndarray]:
        with np.load(path) as data:  # each member's CRC-32 is checked as it is read
            arrays = {k: data[k] for k in ("images", "emoji", "style", "skin")}
        if arrays["images"].shape[1:] != (NATIVE_SIZE, NATIVE_SIZE, 3):
            raise ValueError(f"images of shape {arrays['images'].shape}")
        return arrays

    return cached(path, read, lambda: decode_emoji(paths, path), "emoji dataset")


def decode_emoji(paths: dict[str, Path], path: Path) -> dict[str, np.ndarray]:
    """Every emoji image of every style, decoded from the verified tarballs into `path`."""
    table = emoji_table()
    files = [(i, name, tone) for i, images in enumerate(table.images) for name, tone in images]
    images, emoji, styles, skin = [], [], [], []
    for s, style in enumerate(STYLES):
        verify(paths[style], PACKAGES[style])
        decoded = decode_tarball(paths[style], style, {name for _, name, _ in files})
        for i, name, tone in files:
            images.append(decoded[name])
            emoji.append(i)
            styles.append(s)
            skin.append(tone)
    arrays = {
        "images": np.stack(images),
        "emoji": np.asarray(emoji, dtype=np.int32),
        "style": np.asarray(styles, dtype=np.int8),
        "skin": np.asarray(skin, dtype=np.int8),
    }

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:  # a file object: np.savez would add ".npz" to a name
            np.savez(file, **arrays)

    store(path, write)
    log.info("emoji: %d images cached in %s", len(images), path)
    return arrays


def select(arrays: dict[str, np.ndarray], table: EmojiTable, part: str, skin_tones: bool,
           groups: tuple[str, ...] = GROUPS) -> np.ndarray:  # fmt: skip
    """Indices of the images of `part`: "train" (held-out pairs in their one style only),
    "test" (unseen emoji) or "pairs" (the held-out pairs in their held-out style)."""
    parts = np.asarray([emoji_part(c) for c in table.codes])[arrays["emoji"]]
    style = np.asarray(STYLES)[arrays["style"]]
    classed = np.isin(np.asarray(table.groups)[arrays["emoji"]], groups)
    toned = skin_tones | (arrays["skin"] == 0)
    is_pair = np.char.startswith(parts, "pair-")
    kept_style = np.char.replace(parts, "pair-", "") == style
    keep = {
        "train": (parts == "train") | (is_pair & kept_style),
        "test": parts == "test",
        "pairs": is_pair & ~kept_style,
    }[part]
    return np.flatnonzero(keep & classed & toned)


def load_emoji(
    part: str,
    label: str = "group",
    skin_tones: bool = False,
    styles: tuple[str, ...] | None = None,
):
    """The emoji images of `part` ("train", "test" or "pairs") at 64 px, class = their `label`
    ("group" or "subgroup"), with style, skin tone, group, subgroup and emoji index as
    attributes and each image's name as its description; only `styles` when given (a source
    of one style, a target of the other)."""
    from knowgen.data.dataset import Dataset

    if label not in ("group", "subgroup"):
        raise ValueError(f"data.label {label!r}: emoji classes are 'group' or 'subgroup'")
    arrays, table = cached_arrays(), emoji_table()
    index = select(arrays, table, part, skin_tones)
    if styles is not None:
        wanted = np.isin(arrays["style"][index], [STYLES.index(s) for s in styles])
        index = index[wanted]
    emoji = arrays["emoji"][index].astype(np.int64)
    subgroups = table.subgroup_names
    group_ids = np.asarray([GROUPS.index(g) if g in GROUPS else -1 for g in table.groups])
    subgroup_ids = np.asarray([subgroups.index(s) if s in subgroups else -1
                               for s in table.subgroups])  # fmt: skip
    labels = group_ids[emoji] if label == "group" else subgroup_ids[emoji]
    images = torch.from_numpy(arrays["images"][index]).permute(0, 3, 1, 2).contiguous()
    return Dataset(
        images=images,
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(GROUPS) if label == "group" else subgroups,
        name="emoji",
        attributes={
            "style": torch.from_numpy(arrays["style"][index].astype(np.int64)),
            "skin": torch.from_numpy(arrays["skin"][index].astype(np.int64)),
            "emoji": torch.from_numpy(emoji),
            "group": torch.from_numpy(group_ids[emoji].astype(np.int64)),
            "subgroup": torch.from_numpy(subgroup_ids[emoji].astype(np.int64)),
        },
        descriptions=[table.names[i] for i in emoji.tolist()],
    )


def name_texts() -> list[str]:
    """Every emoji's name and short names: the words a text model on emoji trained on."""
    table = emoji_table()
    return list(table.names) + [s for names in table.short_names for s in names]
