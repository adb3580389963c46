"""Two small emoji tarballs in the npm packages' layout, drawn procedurally, so the emoji code
paths are tested without the network or the 135 MB of the real packages: google draws a disc,
twitter a square, in a colour of the emoji's own; one emoji has skin-tone variants and one is a
"Component". The pins of `knowgen.data.emoji.PACKAGES` are replaced by these tarballs' hashes."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from knowgen.data.emoji import GROUPS, NATIVE_SIZE, PACKAGES, STYLES, emoji_part
from knowgen.data.npm import NpmPackage, sri_sha512

PER_GROUP = 8
NAMES = ["red apple", "dog face", "grinning cat", "car", "rocket", "heart", "star", "tree"]


def entries() -> list[dict]:
    """emoji.json rows: PER_GROUP emoji per group (codes chosen so that every part, test and
    held-out pair included, occurs), one with skin tones, one Component."""
    rows, code = [], 0x1F000
    for g, group in enumerate(GROUPS):
        for i in range(PER_GROUP):
            code += 1
            name = f"{NAMES[(g + i) % len(NAMES)]} {g}{i}"
            rows.append(_entry(f"{code:X}", name, group, f"{group.split()[0].lower()}-{i % 2}"))
    rows[1]["skin_variations"] = {
        tone: {"image": f"{rows[1]['unified'].lower()}-{tone.lower()}.png"}
        for tone in ("1F3FB", "1F3FF")
    }
    rows.append(_entry("1F3FB", "emoji modifier fitzpatrick type-1-2", "Component", "skin-tone"))
    for order, row in enumerate(rows):
        row["sort_order"] = order
    parts = {emoji_part(r["unified"]) for r in rows}
    assert {"train", "test"} <= parts and any(p.startswith("pair-") for p in parts), parts
    return rows


def _entry(code: str, name: str, group: str, subgroup: str) -> dict:
    return {"name": name.upper(), "unified": code, "image": f"{code.lower()}.png",
            "short_names": [name.split()[0]], "category": group,
            "subcategory": subgroup}  # fmt: skip


def picture(style: str, index: int) -> bytes:
    """A 64x64 RGBA PNG: a disc (google) or a square (twitter), transparent around it."""
    rng = np.random.default_rng(index)
    colour = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[:NATIVE_SIZE, :NATIVE_SIZE] - NATIVE_SIZE / 2
    inside = (xx**2 + yy**2 < 24**2) if style == "google" else (abs(xx) < 20) & (abs(yy) < 20)
    rgba = np.zeros((NATIVE_SIZE, NATIVE_SIZE, 4), np.uint8)
    rgba[inside, :3] = colour
    rgba[inside, 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def make_tarballs(folder: Path) -> dict[str, NpmPackage]:
    """Write both tarballs into `folder`; returns the pins that accept them."""
    rows = entries()
    files = [r["image"] for r in rows]
    files += [v["image"] for r in rows for v in (r.get("skin_variations") or {}).values()]
    pins = {}
    for style in STYLES:
        package = PACKAGES[style]
        path = folder / package.tarball
        with tarfile.open(path, "w:gz") as tar:
            _add(tar, "package/emoji.json", json.dumps(rows).encode())
            for index, name in enumerate(files):
                _add(tar, f"package/img/{style}/{NATIVE_SIZE}/{name}", picture(style, index))
        pins[style] = NpmPackage(package.name, package.version, sri_sha512(path))
    return pins


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
