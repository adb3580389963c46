"""The shell blocks of README.md and docs/*.md marked `<!-- runnable -->` run as written, in
order, each document in a fresh folder, with the training budget cut to a few steps (`--minutes`
and `--steps` become `--steps 4`), evaluations to 1,000 samples, and the classifiers a command
trains on the way (the transfer teacher, the CAS classifier) to one epoch: so the commands people
copy stay true. Needs Fashion-MNIST (CI installs it)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowgen.cli import app

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"<!-- runnable[^>]*-->\s*\n```bash\n(.*?)```", re.DOTALL)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands(document: Path) -> list[list[str]]:
    """The knowgen commands of a document's runnable blocks, as argument lists."""
    out = []
    for block in MARK.findall(document.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                assert argv[0] == "knowgen", f"{document.name}: not a knowgen command: {line}"
                out.append(argv[1:])
    return out


def shrink(argv: list[str]) -> list[str]:
    """The same command with a few steps of training and 1,000 samples to judge."""
    budget = ("--minutes", "--steps", "--epochs") + (("--n",) if argv[0] == "evaluate" else ())
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in budget:
            skip = True
        else:
            out.append(arg)
    if argv[0] == "train":
        out += ["--steps", "4", "--set", "train.sample_every=2", "--set", "train.log_every=2"]
    if argv[0] == "evaluate":
        out += ["--n", "1000"]
    return out


RUNNABLE = [d for d in DOCUMENTS if commands(d)]


def test_some_blocks_are_marked():
    assert ROOT / "README.md" in RUNNABLE


@pytest.mark.parametrize("document", RUNNABLE, ids=lambda d: d.name)
def test_runnable_blocks_run_as_written(document, tmp_path, monkeypatch):
    from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR

    if not FASHION_MNIST_DEBIAN_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    from dataclasses import replace

    from knowgen.metrics import cas
    from knowgen.transfer import teachers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cas, "CAS_EPOCHS", 1)
    monkeypatch.setattr(teachers, "TEACHER_RECIPE", replace(teachers.TEACHER_RECIPE, epochs=1))
    runner = CliRunner()
    for argv in commands(document):
        result = runner.invoke(app, shrink(argv))
        assert result.exit_code == 0, f"knowgen {shlex.join(argv)}\n{result.output}"
