"""Where knowgen keeps things it can rebuild: decoded image folders, later evaluator networks."""

from __future__ import annotations

import os
from pathlib import Path


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
    path.mkdir(parents=True, exist_ok=True)
    return path
