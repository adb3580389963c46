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
        ("loss.kind=mse", "loss.kind must be one of ['non-saturating', 'hinge', 'wgan-gp']"),
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
