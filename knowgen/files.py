"""Writing files so that nothing is half-written, and one trainer per run directory.

Every file knowgen writes (checkpoints, exports, caches, configs, metrics) goes through
`atomic_write`: the bytes land in a temp file with a unique name beside the target, are flushed
to disk, and replace the target in one `os.replace`; the directory is then synced so that the
rename itself survives a crash. A reader sees the old file or the new one, never a torn one, and
two writers never share a temp file.

`RunLock` holds an exclusive `flock` on `<run>/.lock` while a process trains in a run directory;
a second trainer is refused with the holder's PID. The lock dies with its process (kill -9
included), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from knowgen.write_failures import write_failure

LOCK_NAME = ".lock"


def sync_directory(folder: Path) -> None:
    """fsync a directory, so that a rename in it is durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(temp_path)` to produce the file, then publish it at `path` atomically.

    The temp file is unique (two writers never collide) and is removed if anything fails, so a
    full disk or a crash leaves the previous `path` intact. A failure of the write itself (no
    space, a file-size limit, a read-only or forbidden folder, a path too long) is raised as
    `WriteFailed`, naming its cause and `path`, whatever dialect the writer reported it in.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        with open(tmp, "rb") as handle:  # the bytes durable before the rename publishes them
            os.fsync(handle.fileno())
        _fault_pause()
        os.replace(tmp, path)
    except BaseException as err:
        written = _size(tmp)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        failure = write_failure(err, path, written) if isinstance(err, Exception) else None
        if failure is None:
            raise
        raise failure from err
    sync_directory(path.parent)
    return path


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


def _fault_pause() -> None:
    """Fault injection (benchmarks/faults.py only): `KNOWGEN_FAULT_PAUSE_S` holds every write
    between its temp file and the rename, so that a kill can land inside a write."""
    seconds = os.environ.get("KNOWGEN_FAULT_PAUSE_S")
    if seconds:
        time.sleep(float(seconds))


def remove_stale_temp_files(folder: Path) -> int:
    """Delete temp files a killed writer left in `folder` (only ours: `.<name>.<random>.tmp`);
    call it while holding the run's lock. Returns how many were removed."""
    stale = list(Path(folder).glob(".*.tmp")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_npy(path: str | Path, array) -> Path:
    """`np.save` of `array` to exactly `path` (through a file object: given a name, np.save
    would add ".npy" to the temp file's)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, array)

    return atomic_write(path, write)


class RunDirectoryLocked(FileExistsError):
    """Another process trains in this run directory."""


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold `<run_dir>/.lock` exclusively for the duration; refuse if another process holds it."""
    run_dir = Path(run_dir)
    made_dir = not run_dir.exists()
    path = run_dir / LOCK_NAME
    made_lock = not path.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    except OSError as err:  # a read-only or forbidden folder: named like any failed write
        raise (write_failure(err, path) or err) from err
    locked = False
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunDirectoryLocked(
                f"run directory {str(run_dir)!r} is in use by process {holder}; wait for it to "
                "finish (or stop it), or train into another --out"
            ) from None
        locked = True
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    except BaseException:
        if locked and made_lock:  # a refused or failed start leaves no trace it did not need
            path.unlink(missing_ok=True)
            if made_dir and not any(run_dir.iterdir()):
                run_dir.rmdir()
        raise
    finally:
        handle.close()  # releases the lock
