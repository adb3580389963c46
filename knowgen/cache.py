"""Where knowgen keeps things it can rebuild: decoded image folders, evaluators, embeddings."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


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
