import pytest

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
