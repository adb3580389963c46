import os
import subprocess
import sys
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowgen.config import (
    apply_overrides,
    build_config,
    list_presets,
    load_preset,
    parse_override,
    read_config,
    resolve_config,
    save_config,
)
from knowgen.sections import dumps_toml


def test_every_shipped_preset_is_valid_and_described():
    presets = list_presets()
    assert {"dcgan", "seed", "linear"} <= set(presets)
    for name, description in presets.items():
        assert description, name
        resolve_config(name)


def test_override_values_are_read_as_toml_then_as_strings():
    assert parse_override("train.steps=500") == (["train", "steps"], 500)
    assert parse_override("train.betas=[0.0, 0.9]") == (["train", "betas"], [0.0, 0.9])
    assert parse_override("data.name=digits") == (["data", "name"], "digits")


def test_overrides_change_the_config():
    cfg = resolve_config("dcgan", ["train.steps=7", "model.z_dim=16", "train.betas=[0.0, 0.9]"])
    assert (cfg.train.steps, cfg.model.z_dim, cfg.train.betas) == (7, 16, (0.0, 0.9))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.stepz=5", "unknown config key train.stepz; valid keys: steps"),
        ("trian.steps=5", "unknown config section 'trian'"),
        ("train.steps=fast", "train.steps must be an integer"),
        ("train.steps=1.5", "train.steps must be an integer"),
        ("loss.kind=mse", "loss.kind must be one of ['non-saturating', 'hinge', 'wgan-gp', 'rpgan"),
        ("model.name=gpt", "unknown model.name 'gpt'"),
        ("train.batch_size=0", "train.batch_size must be > 0"),
        ("train.tensorboard=1", "train.tensorboard must be true or false"),
        ("steps=5", "--set key must be section.key"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ValueError, match=None) as info:
        resolve_config("dcgan", [override])
    assert message in str(info.value)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown preset 'nope'; choose from \[.*'dcgan'"):
        load_preset("nope")


def test_saved_config_reads_back_identically(tmp_path):
    cfg = resolve_config("seed", ["train.minutes=2.5", "train.steps=none", 'data.path="/x y"'])
    assert cfg.train.steps is None and cfg.data.image_size is None
    save_config(cfg, tmp_path / "config.toml")
    assert read_config(tmp_path / "config.toml") == cfg


def test_none_clears_an_optional_value():
    raw = apply_overrides(load_preset("dcgan"), ["train.steps=none", "train.minutes=1"])
    cfg = build_config(raw)
    assert cfg.train.steps is None and cfg.train.minutes == 1.0


OLD_FUSION = """
[data]
name = "fashion-mnist-color"
holdout_pairs = ["dress:red"]
[model]
name = "sagan"
condition = "fusion"
fusion_kinds = ["class", "hue"]
[eval]
guidance = 1.5
"""


def test_knowledge_keys_in_their_old_sections_move_to_knowledge(tmp_path):
    from knowgen.config import build_config, read_config

    (tmp_path / "config.toml").write_text(OLD_FUSION)  # a run directory from before [knowledge]
    cfg = read_config(tmp_path / "config.toml")
    assert cfg.knowledge.condition == "fusion" and cfg.knowledge.fusion_kinds == ("class", "hue")
    assert cfg.knowledge.holdout_pairs == ("dress:red",) and cfg.knowledge.guidance == 1.5
    old = {"model": {"name": "sagan", "condition": "class"}, "knowledge": {"condition": "text"}}
    with pytest.raises(ValueError, match="model.condition='class' and knowledge.condition='text'"):
        build_config(old)


def test_an_old_spelling_override_wins_over_the_preset():
    cfg = resolve_config("fusion", ['model.condition="class"', "eval.guidance=2"])
    assert cfg.knowledge.condition == "class" and cfg.knowledge.guidance == 2.0


def test_the_kind_names_of_the_config_are_the_registered_kinds():
    from knowgen.knowledge.config import KIND_NAMES
    from knowgen.knowledge.kinds import KINDS

    assert tuple(KINDS) == KIND_NAMES


# `--set` strings: what a shell can pass (newlines, quotes, backslashes; surrogates stand for
# bytes that are not UTF-8, as Python receives them in argv)
UTF8_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
QUICK = settings(max_examples=300, deadline=None, derandomize=True)


@QUICK
@given(text=UTF8_TEXT)
def test_a_single_quoted_set_value_arrives_exactly(text):
    assert parse_override(f"data.path='{text}'") == (["data", "path"], text)


@QUICK
@given(text=UTF8_TEXT)
def test_a_double_quoted_set_value_with_toml_escapes_arrives_exactly(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    assert parse_override(f'data.path="{escaped}"') == (["data", "path"], text)


@QUICK
@given(text=UTF8_TEXT)
def test_the_saved_config_gives_every_string_back(text):
    assert tomllib.loads(dumps_toml({"data": {"path": text}}))["data"]["path"] == text


@QUICK
@given(text=st.text(max_size=40))
def test_any_set_string_is_a_value_or_refused_in_one_line(text):
    try:
        parse_override(f"data.path={text}")
    except ValueError as err:
        assert "\n" not in str(err) and "not UTF-8" in str(err)


def test_a_folder_named_with_a_newline_quotes_and_a_backslash_trains_and_resumes(tmp_path):
    from typer.testing import CliRunner

    from knowgen.cli import app
    from tests.conftest import TINY
    from tests.data.test_folder import make_folder

    images = tmp_path / 'my "pets"\nfolder \\ 2'
    make_folder(images, corrupt=False)
    settings_ = [s for s in TINY if not s.startswith("data.")]
    settings_ += ['data.name="folder"', f"data.path='{images}'", "data.image_size=8",
                  "train.batch_size=4"]  # fmt: skip
    args = ["train", "--out", str(tmp_path / "run"), *(a for s in settings_ for a in ("--set", s))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert read_config(tmp_path / "run" / "config.toml").data.path == str(images)
    resumed = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "run"), "--steps", "60"])
    assert resumed.exit_code == 0, resumed.output


def test_a_value_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    folder = os.fsencode(tmp_path) + b"/caf\xe9"  # Latin-1, as an old camera might name it
    os.mkdir(folder)
    command = [sys.executable.encode(), b"-m", b"knowgen", b"train", b"--set",
               b"data.name=folder", b"--set", b"data.path=" + folder]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "data.path" in done.stderr and "not UTF-8" in done.stderr
