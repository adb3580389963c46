"""Why a write failed, said so that a user can act on it: the one place that names causes.

Writers report the same few causes in many dialects. Python raises `OSError` with an errno;
`torch.save` to a path raises `RuntimeError("basic_ios::clear: iostream error")` (its C++ stream
drops the errno); torch's zip writer says `unexpected pos`; safetensors quotes Rust's
`Os { code: 28, kind: StorageFull, .. }`; a plain `write()` error carries no file name.
`write_failure` turns each into a `WriteFailed`: an `OSError` with the cause's errno, the file
that was meant and what to do. Where the writer hid the errno, the file system is asked: a
read-only mount, a folder without write permission, no space left, or a file-size limit
(`ulimit -f`, RLIMIT_FSIZE) that the partly written file reached.
"""

from __future__ import annotations

import errno
import os
import re
import resource
from pathlib import Path

# errno -> (the cause, what to do)
CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", "free some space"),
    errno.EDQUOT: ("the disk quota is exhausted", "free some space or raise the quota"),
    errno.EFBIG: (
        "the file outgrew the largest file this process may write",
        "raise the file-size limit (`ulimit -f`) or write to a file system that takes it",
    ),
    errno.EROFS: ("the file system is read-only", "write to another folder"),
    errno.EACCES: ("permission denied", "check the folder's permissions or write elsewhere"),
    errno.EPERM: ("the operation is not permitted", "check the folder's permissions"),
    errno.ENAMETOOLONG: ("the path is too long", "use a shorter folder or file name"),
    errno.EIO: ("the disk reported an input/output error", "check the disk"),
}
LOW_SPACE_BYTES = 1 << 20  # less free space than this counts as a full disk
RUST_IO_CODE = re.compile(r"\bcode: (\d+)")  # safetensors: Os { code: 28, kind: StorageFull }


class WriteFailed(OSError):
    """A write that failed for a cause the user can act on (`errno` is the cause's).

    `after` adds what the failure means for the command: "the run stopped at step 80 ...".
    """

    def __init__(self, code: int, path: str | Path, after: str = "") -> None:
        super().__init__(code, CAUSES[code][0], str(path))
        self.after = after

    def __str__(self) -> str:
        cause, advice = CAUSES[self.errno]
        return f"cannot write {self.filename}: {cause}; {advice}" + (
            f". {self.after}" if self.after else ""
        )

    def adding(self, after: str) -> WriteFailed:
        """The same failure with `after` said too (what it meant for the command)."""
        return WriteFailed(self.errno, self.filename, after)


def write_failure(
    err: BaseException, path: str | Path, written_bytes: int = 0
) -> WriteFailed | None:
    """`err`, raised while writing `path` (`written_bytes` of it on disk), as a `WriteFailed`
    naming its cause; None when `err` is not a failure of the write itself (a bug, a bad value)."""
    if isinstance(err, WriteFailed):
        return err
    code = stated_cause(err)
    if code is None and isinstance(err, OSError | RuntimeError):  # a writer that hid its errno
        code = diagnosed_cause(Path(path).parent, written_bytes)
    return WriteFailed(code, path) if code is not None else None


def stated_cause(err: BaseException) -> int | None:
    """The cause an error states: its errno, a Rust io error's code, or the errno's words."""
    if isinstance(err, OSError) and err.errno in CAUSES:
        return err.errno
    text = str(err)
    match = RUST_IO_CODE.search(text)
    if match and int(match.group(1)) in CAUSES:
        return int(match.group(1))
    return next((code for code in CAUSES if os.strerror(code) in text), None)


def diagnosed_cause(folder: Path, written_bytes: int) -> int | None:
    """Why a write into `folder` could have failed, asked of the file system: None when it
    shows no cause (the failure is then not one of ours to name)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if not os.access(folder, os.W_OK):
        return errno.EACCES
    if stats.f_bavail * stats.f_frsize < LOW_SPACE_BYTES:
        return errno.ENOSPC
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit != resource.RLIM_INFINITY and written_bytes >= limit:
        return errno.EFBIG
    return None
