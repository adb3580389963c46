"""Where knowgen keeps things it can rebuild (decoded image folders, evaluators, embeddings,
reference features), and how an entry is read back: verified, and rebuilt when damaged.

Every cache entry is read through `read_cache` (or `cached`, which also builds it, one process
at a time): a truncated, zero-byte or altered entry costs a rebuild and one warning line, never
the command. Safetensors entries carry the SHA-256 of their tensors (`write_tensors`,
`read_tensors`); the other formats (zip-based `.pt` and `.npz`, JSON) are checked by parsing
them fully, and `.npz` members by their CRC-32.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import torch

log = logging.getLogger(__name__)
T = TypeVar("T")
DIGEST_KEY = "knowgen_sha256"


def cache_dir(*parts: str) -> Path:
    """Return (and create) `$KNOWGEN_CACHE/<parts>`, default `~/.cache/knowgen/<parts>`.

    A cache is never the only copy of anything, so deleting it is always safe.
    """
    root = os.environ.get("KNOWGEN_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "knowgen"
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is not writable")
    except OSError as err:  # a read-only home or cache: work in a private temp folder instead
        fallback = Path(tempfile.gettempdir()) / f"knowgen-cache-{os.getuid()}"
        log.warning("cache %s unusable (%s); using %s", path, err, fallback)
        path = fallback.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
    return path


def read_cache(path: Path, read: Callable[[Path], T], what: str) -> T | None:
    """The entry at `path` as `read` returns it, or None when there is none or it is damaged.

    `read` raises on anything unexpected (a truncated or zero-byte file, a bad header, a hash
    that does not match, missing keys), and returns None for a sound entry made for something
    else (another recipe: replaced without a warning). A damaged entry is derived data: it is
    deleted with one warning line and the caller rebuilds it, never fails on it.
    """
    if not path.is_file():
        return None
    try:
        return read(path)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        log.warning("%s cache %s is damaged (%s); rebuilding it", what, path, reason)
        path.unlink(missing_ok=True)
        return None


@contextlib.contextmanager
def building(path: Path) -> Iterator[None]:
    """Hold `<path>.lock` while the entry at `path` is built: a second process that wants the
    same entry waits, then reads the first one's instead of building its own (the entry itself
    is published atomically, so a reader never sees a torn one either way)."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def cached(path: Path, read: Callable[[Path], T], build: Callable[[], T], what: str) -> T:
    """The entry at `path` (see `read_cache`), else `build()`, which writes it and returns it;
    one process builds at a time (`building`)."""
    found = read_cache(path, read, what)
    if found is not None:
        return found
    with building(path):
        found = read_cache(path, read, what)  # built by another process while we waited
        return found if found is not None else build()


def store(path: Path, write: Callable[[Path], None]) -> None:
    """Write a cache entry (`atomic_write(path, write)`). A write that fails for a cause a user
    can act on (no space, a size limit, a read-only folder) is one warning line, not the
    command's end: the value is in hand, and the entry is built again next time."""
    from knowgen.files import atomic_write
    from knowgen.write_failures import WriteFailed

    try:
        atomic_write(path, write)
    except WriteFailed as err:
        log.warning("not cached: %s", err)


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """A safetensors cache entry (`store`), with the SHA-256 of its tensors in its header."""
    from safetensors.torch import save_file

    tensors = {name: tensor.contiguous() for name, tensor in tensors.items()}
    digest = tensor_digest(tensors)
    store(path, lambda tmp: save_file(tensors, str(tmp), {DIGEST_KEY: digest}))


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors cache entry, verified: its size against its header (a truncated file), and
    the tensors against the SHA-256 its header records (damage inside; entries written before
    knowgen recorded it are checked by size and header only)."""
    from safetensors.torch import load

    data = path.read_bytes()
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes: too short for a safetensors file")
    header_size = int.from_bytes(data[:8], "little")
    if 8 + header_size > len(data):
        raise ValueError(f"a {header_size}-byte header in a {len(data)}-byte file")
    header = json.loads(data[8 : 8 + header_size])
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    if 8 + header_size + max(ends, default=0) != len(data):
        raise ValueError(f"{len(data)} bytes where the header describes another size")
    tensors = load(data)
    recorded = (header.get("__metadata__") or {}).get(DIGEST_KEY)  # None: an older entry
    if recorded is not None and tensor_digest(tensors) != recorded:
        raise ValueError("its tensors do not match their SHA-256")
    return tensors


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of named tensors (names, dtypes, shapes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)  # 0-d tensors too
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()
