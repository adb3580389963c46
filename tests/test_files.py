"""Atomic writes and the run-directory lock."""

import os

import pytest

from knowgen.files import RunDirectoryLocked, atomic_write, atomic_write_text, run_lock


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = atomic_write_text(tmp_path / "a.json", "old")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="the disk is full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_writes_to_dev_full_fail_cleanly(tmp_path):
    """A full disk (writes to /dev/full fail with ENOSPC) never replaces the old file."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    path = atomic_write_text(tmp_path / "b.txt", "kept")

    def to_full_disk(tmp):
        with open("/dev/full", "wb") as full:
            full.write(b"x" * 10_000)
            full.flush()

    with pytest.raises(OSError):
        atomic_write(path, to_full_disk)
    assert path.read_text() == "kept"


def test_a_second_holder_of_the_run_lock_is_refused_with_the_pid(tmp_path):
    refused = pytest.raises(RunDirectoryLocked, match=f"in use by process {os.getpid()}")
    with run_lock(tmp_path / "run"), refused, run_lock(tmp_path / "run"):
        pass
    with run_lock(tmp_path / "run"):  # released when the holder is done
        pass
