"""The run directory: what may be in it, when it may be cleared, and whether a resume may use it.

A run directory is where a user's hours of training live, so the rules are strict: training never
goes into the current, home or root directory; `--overwrite` clears only files knowgen wrote; a
resume must build the same networks its checkpoint holds.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from knowgen.config import RunConfig, build_config, config_to_dict, save_config
from knowgen.files import LOCK_NAME, remove_stale_temp_files
from knowgen.train.checkpoint import newest_intact_checkpoint

log = logging.getLogger(__name__)

# what a run directory may hold: --overwrite clears a directory of these and nothing else
RUN_ARTIFACTS = frozenset({
    "config.toml", "checkpoints", "samples", "metrics.jsonl", "tensorboard", "export",
    "eval.json", "probe.json", "encoder.safetensors", "encoder.json", "encoder.safetensors.lock",
    "transfer.json", LOCK_NAME,
})  # fmt: skip
FAILED_START = frozenset({"config.toml", LOCK_NAME})  # a start that never trained


def prepare_run_dir(
    run_dir: Path, cfg: RunConfig, resume: bool, overwrite: bool
) -> dict[str, Any] | None:
    """Check the run directory, then save `config.toml` (atomically); refuse to mix two runs or
    to delete anything that is not a knowgen run. Returns the checkpoint to resume from."""
    run_dir = Path(run_dir)
    payload = None
    entries = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    if resume:
        removed = remove_stale_temp_files(run_dir / "checkpoints")
        if removed:
            log.warning("removed %d unfinished checkpoint write(s) of a killed run", removed)
        found = newest_intact_checkpoint(run_dir)
        if found is None:
            raise FileNotFoundError(f"nothing to resume: {run_dir} has no readable checkpoints")
        path, payload = found
        check_resumable(cfg, payload["config"], path)
    elif protected(run_dir):
        raise ValueError(
            f"refusing to train into {str(run_dir)!r} (that is {run_dir.resolve()}): a run "
            "directory is never the current, home or root directory; give --out runs/NAME"
        )
    elif entries - FAILED_START:
        if not overwrite:
            raise FileExistsError(
                f"run directory {str(run_dir)!r} is not empty; resume it with "
                f"`knowgen train --resume {run_dir}`, pick another --out, or pass --overwrite"
            )
        clear_run_dir(run_dir, entries)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.toml")
    return payload


def protected(folder: Path) -> bool:
    """The root, the home directory, the current directory and those above it: never a new run
    directory, never cleared."""
    here = Path.cwd().resolve()
    return Path(folder).resolve() in {Path("/"), Path.home().resolve(), here, *here.parents}


def clear_run_dir(run_dir: Path, entries: set[str]) -> None:
    """Delete a knowgen run directory's contents (`--overwrite`); anything else is refused:
    the current, home or root directory (or one above the current one), and a directory that
    holds files knowgen did not write."""
    resolved = run_dir.resolve()
    if protected(run_dir):
        raise ValueError(
            f"refusing to clear {str(run_dir)!r} (that is {resolved}): --overwrite never clears "
            "the current, home or root directory; give --out a run directory such as runs/NAME"
        )
    foreign = sorted(entries - RUN_ARTIFACTS)
    if foreign or "config.toml" not in entries:
        what = f"files knowgen did not write ({', '.join(foreign[:3])})" if foreign else "no config"
        raise ValueError(
            f"refusing to clear {str(run_dir)!r}: it is not a knowgen run directory ({what}); "
            "pick another --out"
        )
    for name in sorted(entries - {LOCK_NAME}):
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


# a resumed run must build the same networks: these sections may not change
FIXED_ON_RESUME = ("model", "knowledge")


def check_resumable(cfg: RunConfig, stored: dict[str, Any], checkpoint: Path) -> None:
    """Refuse a resume whose config would build other networks than the checkpoint holds,
    listing every changed key (train settings such as the learning rates are applied)."""
    before = config_to_dict(build_config(stored))
    after = config_to_dict(cfg)
    changed = [
        f"{section}.{key}: {before[section].get(key)!r} -> {value!r}"
        for section in FIXED_ON_RESUME
        for key, value in after[section].items()
        if before[section].get(key) != value
    ]
    if changed:
        raise ValueError(
            f"--resume cannot change what {checkpoint.name} was trained as ({'; '.join(changed)});"
            " start a new run with --out instead"
        )
