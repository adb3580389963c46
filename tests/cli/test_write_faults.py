"""A write that fails (a file-size cap, the way a full disk fails a write; a read-only folder)
ends `train`, `sample`, `export` and `evaluate` with its cause in one line, rc 2, the earlier
files intact and no temp file left behind.

The cap is RLIMIT_FSIZE set in the child before it starts, without ignoring SIGXFSZ: knowgen's
entry point ignores it itself, so the write fails with EFBIG instead of killing the process.
The read-only folder is a read-only bind mount in a private mount namespace (`unshare`; as
root, permissions alone would not stop a write), or permissions where not root.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from knowgen.checkpoint import latest_checkpoint
from knowgen.train.checkpoint import load_checkpoint
from tests.conftest import TINY

TINY_ARGS = [arg for setting in TINY for arg in ("--set", setting)]
READ_ONLY_MOUNT = 'mount --bind -o ro "$0" "$0" && exec "$@"'


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "tiny"
    done = knowgen("train", "--out", str(run), *TINY_ARGS)
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture
def run(base_run, tmp_path) -> Path:
    """A private copy of the 40-step run (checkpoints at 20 and 40)."""
    return Path(shutil.copytree(base_run, tmp_path / "run"))


def knowgen(*args: str, file_size_cap: int | None = None, read_only: Path | None = None):
    """`python -m knowgen ARGS` in a child process, under a file-size cap (bytes) or with
    `read_only` made read-only for it alone."""
    command = [sys.executable, "-m", "knowgen", *args]
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}  # only knowgen's own writes meet the cap
    cap = None
    if file_size_cap is not None:

        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_cap, resource.RLIM_INFINITY))

    if read_only is not None:
        if can_mount_read_only():
            command = ["unshare", "-rm", "sh", "-c", READ_ONLY_MOUNT, str(read_only), *command]
        elif os.geteuid() != 0:
            with read_only_permissions(read_only):
                return subprocess.run(command, capture_output=True, text=True, timeout=300,
                                      env=env)  # fmt: skip
        else:
            pytest.skip("root without `unshare` mount namespaces cannot make a folder read-only")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=cap,
                          env=env)  # fmt: skip


@functools.cache
def can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "-rm", "sh", "-c", READ_ONLY_MOUNT, "/tmp", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


class read_only_permissions:  # noqa: N801 - used as a context manager, like a function
    """Folders under `root` without write permission for the duration (not root only)."""

    def __init__(self, root: Path) -> None:
        self.folders = [root, *(p for p in root.rglob("*") if p.is_dir())]

    def __enter__(self) -> None:
        for folder in self.folders:
            folder.chmod(folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def __exit__(self, *exc) -> None:
        for folder in self.folders:
            folder.chmod(folder.stat().st_mode | stat.S_IWUSR)


def files_of(folder: Path) -> dict[str, int]:
    """{relative path: size} of every file under `folder`."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def assert_one_clear_line(done, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "internal error" not in errors[0] and "Traceback" not in done.stderr
    for word in words:
        assert word in errors[0], errors[0]


def assert_no_temp_files(*folders: Path) -> None:
    for folder in folders:
        left = [p for p in folder.rglob("*.tmp")] if folder.exists() else []
        assert not left, left


def test_train_stops_at_a_clean_point_when_a_checkpoint_outgrows_the_cap(run):
    checkpoint = latest_checkpoint(run)
    assert checkpoint.name == "step-0000040.pt"
    cap = checkpoint.stat().st_size // 2  # samples and metrics fit; the next checkpoint cannot
    done = knowgen("train", "--resume", str(run), "--steps", "80", file_size_cap=cap)
    assert_one_clear_line(
        done, "cannot write", "step-0000060.pt", "outgrew the largest file", "ulimit -f",
        "stopped at step 60", "step-0000040.pt is intact", f"--resume {run}",
    )  # fmt: skip
    assert_no_temp_files(run)
    assert latest_checkpoint(run) == checkpoint and load_checkpoint(checkpoint)["step"] == 40
    resumed = knowgen("train", "--resume", str(run), "--steps", "80")  # nothing was lost
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(latest_checkpoint(run))["step"] == 80


def test_train_in_a_read_only_run_directory_changes_nothing(run):
    before = files_of(run)
    done = knowgen("train", "--resume", str(run), "--steps", "80", read_only=run)
    assert_one_clear_line(done, "cannot write", str(run), "read-only")
    assert files_of(run) == before


def test_sample_over_the_cap_leaves_no_image(run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = knowgen("sample", str(run), "--n", "16", "--out", str(out / "grid.png"),
                   file_size_cap=64)  # fmt: skip
    assert_one_clear_line(done, "cannot write", str(out / "grid.png"), "outgrew")
    assert files_of(out) == {}


def test_sample_into_a_read_only_folder(run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = knowgen("sample", str(run), "--n", "16", "--out", str(out / "grid.png"), read_only=out)
    assert_one_clear_line(done, "cannot write", str(out / "grid.png"), "read-only")
    assert files_of(out) == {}


def test_export_over_the_cap_leaves_no_half_export(run):
    done = knowgen("export", str(run), file_size_cap=1024)
    assert_one_clear_line(done, "cannot write", str(run / "export"), "outgrew")
    assert not (run / "export").exists() or files_of(run / "export") == {}
    assert_no_temp_files(run)


def test_export_from_a_read_only_run_directory(run):
    before = files_of(run)
    done = knowgen("export", str(run), read_only=run)
    assert_one_clear_line(done, "cannot write", str(run / "export"), "read-only")
    assert files_of(run) == before


@pytest.mark.parametrize("fault", ["cap", "read-only"])
def test_evaluate_shows_its_figures_then_names_the_failed_write(run, fault):
    warm = knowgen("evaluate", str(run), "--n", "100", "--json")  # evaluator and features cached
    assert warm.returncode == 0, warm.stderr
    (run / "eval.json").unlink()
    fault_args = {"file_size_cap": 32} if fault == "cap" else {"read_only": run}
    done = knowgen("evaluate", str(run), "--n", "100", "--json", **fault_args)
    cause = "outgrew" if fault == "cap" else "read-only"
    assert_one_clear_line(done, "cannot write", str(run / "eval.json"), cause)
    assert json.loads(done.stdout)["fid"] == json.loads(warm.stdout)["fid"]  # shown, not lost
    assert not (run / "eval.json").exists()
    assert_no_temp_files(run)
