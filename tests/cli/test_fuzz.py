"""Fuzzing the command line in-process (typer's runner: a case costs milliseconds): generated bad
config values, `--set` strings, preset files, sample arguments, image folders, caption files,
exports and checkpoints. Every case must end with exit 0 (the input happened to be fine) or 2
(one message naming the problem): never a traceback, never an internal error (exit 1), never a
file touched outside the run directory, never a user file deleted.

Over 300 generated inputs in all (the `max_examples` below), seeded: the same cases every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from knowgen.cli import app
from tests.conftest import TINY

runner = CliRunner()
FAST = [arg for s in TINY + ["train.steps=1", "train.num_samples=4"] for arg in ("--set", s)]
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def run_cli(*args) -> object:
    result = runner.invoke(app, [str(a) for a in args])
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {output[-800:]}"
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def fresh(tmp_path: Path) -> Path:
    """A new folder per generated case (pytest's tmp_path is shared by all of a test's cases)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A user's folder that must never change, a trained run and its export to mutate."""
    root = tmp_path_factory.mktemp("fuzz")
    mine = root / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    run = root / "run"
    result = runner.invoke(app, ["train", "--out", str(run), *FAST])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["export", str(run), "--out", str(root / "export")]).exit_code == 0
    return root, snapshot(mine)


@pytest.fixture(autouse=True)
def in_workspace(workspace, monkeypatch):
    root, before = workspace
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(root / "mine"))
    yield
    assert snapshot(root / "mine") == before  # never touched, never deleted


SECTIONS = ["train", "model", "data", "knowledge", "loss", "eval", "transfer", "bogus"]
KEYS = ["steps", "minutes", "epochs", "batch_size", "lr_g", "betas", "seed", "device", "z_dim",
        "width", "name", "condition", "fusion_kinds", "guidance", "holdout_pairs", "kind",
        "ema_halflife_steps", "num_samples", "image_size", "channels", "mode", "bogus",
        ""]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "-1",
            "0",
            "1e400",
            "2**63",
            "9223372036854775808",
            '"bogus"',
            "[]",
            "[1, 2, 3]",
            "{a = 1}",
            "true",
            '"cuda:x"',
            "none",
            "",
            '"../../etc"',
            "[[[[[]]]]]",
            '"\\u0000"',
            "1.5",
            "-0.0",
        ]
    ),  # fmt: skip
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr),
    st.text(alphabet=string.printable, max_size=20),
)


@seed(1)
@SETTINGS
@given(section=st.sampled_from(SECTIONS), key=st.sampled_from(KEYS), value=VALUES)
def test_fuzz_set_values(section, key, value, tmp_path):
    tmp_path = fresh(tmp_path)
    run_cli("train", "--out", tmp_path / "run", *FAST, "--set", f"{section}.{key}={value}")


@seed(2)
@SETTINGS
@given(text=st.text(max_size=60))
def test_fuzz_set_strings(text, tmp_path):
    tmp_path = fresh(tmp_path)
    run_cli("train", "--out", tmp_path / "run", *FAST, "--set", text)


TOML_PIECES = st.sampled_from([
    "[train]\n", "[model]\n", "[knowledge]\n", "steps = 1\n", "steps = nan\n", "x = [\n",
    "name = 'dcgan'\n", "a = " + "[" * 500 + "]" * 500 + "\n", "\x00\xff", "[[train]]\n",
    "minutes = inf\n", "condition = 'fusion'\n", "z_dim = -3\n", "= 1\n", "description = 1\n",
])  # fmt: skip


@seed(3)
@SETTINGS
@given(pieces=st.lists(TOML_PIECES, max_size=6), noise=st.binary(max_size=40))
def test_fuzz_preset_files(pieces, noise, tmp_path):
    tmp_path = fresh(tmp_path)
    preset = tmp_path / "preset.toml"
    preset.write_bytes("".join(pieces).encode("utf-8", "surrogateescape") + noise)
    run_cli("train", "--preset", preset, "--out", tmp_path / "run", *FAST)


@seed(4)
@SETTINGS
@given(
    n=st.sampled_from(["0", "-1", "1", "3", "1e9", "abc", "99999999999"]),
    seed_=st.sampled_from(["0", "-5", "18446744073709551616", "x"]),
    extra=st.lists(
        st.sampled_from(
            [
                ["--class", "3"],
                ["--class", "dress"],
                ["--color", "red"],
                ["--text", "a frock"],
                ["--structure", "missing.png"],
                ["--attribute", "size=2"],
                ["--guidance", "nan"],
                ["--by-class", "-3"],
                ["--scale", "0"],
                ["--nrow", "-1"],
                ["--npy", "/dev/full"],
                ["--out", "/proc/forbidden.png"],
                ["--prompts", "mine"],
            ]
        ),
        max_size=3,
    ),  # fmt: skip
)
def test_fuzz_sample_arguments(n, seed_, extra, tmp_path):
    tmp_path = fresh(tmp_path)
    flat = [a for pair in extra for a in pair]
    run_cli("sample", "run", "--n", n, "--seed", seed_, "--out", tmp_path / "s.png", *flat)


@seed(5)
@settings(SETTINGS, max_examples=30)
@given(
    files=st.lists(
        st.tuples(st.binary(min_size=1, max_size=12), st.binary(max_size=200)),
        min_size=1,
        max_size=4,
    ),
    link_out=st.booleans(),
)
def test_fuzz_image_folders(files, link_out, tmp_path):
    tmp_path = fresh(tmp_path)
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    for raw_name, content in files:  # names need not be UTF-8
        name = os.fsdecode(raw_name.replace(b"/", b"_").replace(b"\0", b"_")) or "x"
        with contextlib.suppress(OSError):  # a name the file system refuses
            (folder / "cats" / (name[:40] + ".png")).write_bytes(content)
    if link_out:
        (folder / "usr").symlink_to("/usr")
    run_cli("train", "--data", folder, "--out", tmp_path / "run", *FAST)


@seed(6)
@settings(SETTINGS, max_examples=60)
@given(
    meta=st.one_of(
        st.just([]),
        st.just({}),
        st.dictionaries(
            st.sampled_from(["model", "image_shape", "class_names", "format_version", "knowledge"]),
            st.one_of(
                st.integers(-5, 10**9),
                st.text(max_size=5),
                st.lists(st.integers(0, 10**7), max_size=4),
                st.just({"name": "dcgan", "z_dim": 10**9, "width": 10**6}),
            ),
            max_size=5,
        ),  # fmt: skip
    ),
    cut=st.integers(0, 2000),
)
def test_fuzz_exports(meta, cut, workspace, tmp_path):
    tmp_path = fresh(tmp_path)
    root, _ = workspace
    export = tmp_path / "export"
    shutil.copytree(root / "export", export)
    if isinstance(meta, dict) and meta:
        meta = {"format_version": 1} | meta
    (export / "generator.json").write_text(json.dumps(meta))
    run_cli("sample", export, "--n", "2", "--out", tmp_path / "s.png")
    shutil.copy(root / "export" / "generator.json", export / "generator.json")
    weights = export / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    run_cli("sample", export, "--n", "2", "--out", tmp_path / "s.png")


@seed(7)
@settings(SETTINGS, max_examples=30)
@given(cut=st.integers(0, 100_000), flip=st.integers(0, 100_000))
def test_fuzz_checkpoints(cut, flip, workspace, tmp_path):
    tmp_path = fresh(tmp_path)
    root, _ = workspace
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    for checkpoint in (run / "checkpoints").glob("step-*.pt"):
        data = bytearray(checkpoint.read_bytes())
        if data:
            data[flip % len(data)] ^= 0xFF
        checkpoint.write_bytes(bytes(data[: cut or None]))
    run_cli("sample", run, "--n", "2", "--out", tmp_path / "s.png")
    run_cli("train", "--resume", run, "--steps", "2")


@seed(8)
@settings(SETTINGS, max_examples=30)
@given(
    rows=st.lists(st.text(alphabet=string.printable + "é\u2028", max_size=30), max_size=6),
    suffix=st.sampled_from([".csv", ".jsonl", ".txt"]),
    huge=st.booleans(),
)
def test_fuzz_caption_files(rows, suffix, huge, tmp_path):
    tmp_path = fresh(tmp_path)
    pytest.importorskip("sentence_transformers")
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    for i in range(4):
        Image.new("RGB", (8, 8), (i * 60, 0, 0)).save(folder / f"{i}.png")
    captions = tmp_path / f"captions{suffix}"
    body = "\n".join(rows) + ("\n0.png," + '"' + "a" * 200_000 + '"' if huge else "")
    captions.write_text("path,caption\n" + body)
    settings_ = ['knowledge.condition="text"', 'model.name="sagan"', 'loss.kind="hinge"',
                 f'knowledge.captions="{captions}"', "data.image_size=8",
                 "data.channels=3"]  # fmt: skip
    extra = [a for s in settings_ for a in ("--set", s)]
    run_cli("train", "--data", folder, "--out", tmp_path / "run", *FAST, *extra)
