"""Every dialect a writer speaks when a write fails is named as its cause, in one place."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from knowgen import write_failures
from knowgen.files import atomic_write, atomic_write_text
from knowgen.write_failures import WriteFailed, write_failure

# in a child: a file-size cap (SIGXFSZ ignored, so that the write fails with EFBIG), then one
# writer's way of writing a file larger than the cap, through atomic_write
CAPPED_WRITE = textwrap.dedent(
    """
    import os, resource, signal, sys
    from pathlib import Path
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (40 * 1024, resource.RLIM_INFINITY))
    import numpy as np, torch
    from PIL import Image
    from safetensors.torch import save_file
    from knowgen.files import atomic_write, atomic_write_bytes
    from knowgen.write_failures import WriteFailed
    big = torch.randn(100_000)
    writers = {
        "torch.save": lambda tmp: torch.save({"w": big}, tmp),
        "safetensors": lambda tmp: save_file({"w": big}, str(tmp)),
        "pil": lambda tmp: Image.fromarray(
            np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
        ).save(tmp, format="PNG"),
        "bytes": None,
    }
    target = Path(sys.argv[2]) / "out.bin"
    try:
        if sys.argv[1] == "bytes":
            atomic_write_bytes(target, b"x" * 100_000)
        else:
            atomic_write(target, writers[sys.argv[1]])
    except WriteFailed as err:
        print(err.errno, err)
    """
)


@pytest.mark.parametrize("writer", ["torch.save", "safetensors", "pil", "bytes"])
def test_a_file_size_cap_is_named_whatever_the_writer(writer, tmp_path):
    done = subprocess.run([sys.executable, "-c", CAPPED_WRITE, writer, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    code, _, message = done.stdout.strip().partition(" ")
    assert int(code) == errno.EFBIG, done.stdout
    assert message.startswith(f"cannot write {tmp_path / 'out.bin'}: the file outgrew"), message
    assert list(tmp_path.iterdir()) == []  # no temp file, no half file


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), errno.ENOSPC),
        (OSError(errno.EROFS, "Read-only file system"), errno.EROFS),
        (PermissionError(errno.EACCES, "Permission denied"), errno.EACCES),
        (
            RuntimeError(
                "Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                'message: "No space left on device" })'
            ),
            errno.ENOSPC,
        ),  # fmt: skip
        (RuntimeError("[Errno 122] Disk quota exceeded"), errno.EDQUOT),
    ],
)
def test_stated_causes_in_every_dialect(error, code, tmp_path):
    failure = write_failure(error, tmp_path / "f")
    assert isinstance(failure, WriteFailed) and failure.errno == code
    assert str(failure).startswith(f"cannot write {tmp_path / 'f'}: ")


def test_a_hidden_errno_on_a_full_disk_is_a_full_disk(tmp_path, monkeypatch):
    """torch's zip writer reports ENOSPC as `unexpected pos`; the file system says why."""
    monkeypatch.setattr(write_failures, "LOW_SPACE_BYTES", 1 << 62)

    def torch_like(tmp):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 128 vs 0")

    with pytest.raises(WriteFailed, match="the disk is full; free some space") as caught:
        atomic_write(tmp_path / "c.pt", torch_like)
    assert caught.value.errno == errno.ENOSPC and not list(tmp_path.iterdir())


def test_a_bug_inside_a_writer_stays_a_bug(tmp_path):
    def buggy(tmp):
        raise KeyError("not a write failure")

    with pytest.raises(KeyError):
        atomic_write(tmp_path / "d", buggy)
    assert write_failure(RuntimeError("shape mismatch"), tmp_path / "d") is None
    assert not list(tmp_path.iterdir())


def test_a_path_too_long_is_named(tmp_path):
    with pytest.raises(WriteFailed, match="the path is too long"):
        atomic_write_text(tmp_path / ("x" * 300), "text")


def test_dev_full_is_a_full_disk(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")

    def to_full_disk(tmp):
        with open("/dev/full", "wb") as full:
            full.write(b"x" * 10_000)
            full.flush()

    with pytest.raises(WriteFailed, match="the disk is full") as caught:
        atomic_write(tmp_path / "e", to_full_disk)
    assert caught.value.filename == str(tmp_path / "e")


def test_the_command_adds_what_the_failure_meant():
    failure = WriteFailed(errno.ENOSPC, "run/checkpoints/step-0000060.pt")
    said = str(failure.adding("The run stopped at step 60"))
    assert said == (
        "cannot write run/checkpoints/step-0000060.pt: the disk is full; free some space. "
        "The run stopped at step 60"
    )
