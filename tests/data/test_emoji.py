"""The emoji dataset: fetching with integrity checks, decoding, splits by emoji, held-out
pairs, the cache that heals (on small procedural tarballs, tests/data/fake_emoji.py)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from knowgen.cli import app
from knowgen.data import DataConfig, load_dataset
from knowgen.data import emoji as emoji_data
from knowgen.data.datasets import load_held_out_pairs
from knowgen.data.npm import IntegrityError, fetch_packages


def test_fetch_from_a_folder_checks_and_keeps_both_tarballs(fake_emoji_tarballs, tmp_path,
                                                            monkeypatch):  # fmt: skip
    source, pins = fake_emoji_tarballs
    monkeypatch.setattr(emoji_data, "PACKAGES", pins)
    monkeypatch.setenv("KNOWGEN_DATA", str(tmp_path / "data"))
    emoji_data.emoji_table.cache_clear()
    result = CliRunner().invoke(app, ["data", "fetch", "emoji", "--from", str(source)])
    emoji_data.emoji_table.cache_clear()
    assert result.exit_code == 0, result.output
    kept = sorted(p.name for p in (tmp_path / "data" / "emoji").iterdir())
    assert kept == sorted(p.tarball for p in pins.values())
    assert "emoji:" in result.output and "Apache-2.0" in result.output


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_bad_tarball_is_refused_in_one_line_and_nothing_is_left(
    fake_emoji_tarballs, tmp_path, monkeypatch, damage
):
    source, pins = fake_emoji_tarballs
    bad = tmp_path / "bad"
    bad.mkdir()
    for package in pins.values():
        data = (source / package.tarball).read_bytes()
        if damage == "truncated":
            data = data[: len(data) // 2]
        else:
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        (bad / package.tarball).write_bytes(data)
    monkeypatch.setattr(emoji_data, "PACKAGES", pins)
    monkeypatch.setenv("KNOWGEN_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["data", "fetch", "emoji", "--from", str(bad)])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("error: ") and "is not emoji-datasource-google@16.0.0" in message
    assert list((tmp_path / "data" / "emoji").iterdir()) == []  # no tarball, no temp folder


def test_without_npm_the_error_names_the_command(fake_emoji_tarballs, tmp_path, monkeypatch):
    _, pins = fake_emoji_tarballs
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on it
    with pytest.raises(FileNotFoundError, match="npm pack emoji-datasource-google@16.0.0"):
        fetch_packages(list(pins.values()), tmp_path / "data")
    assert [p.name for p in (tmp_path / "data").iterdir()] == []


def test_a_kept_tarball_that_changed_is_named_not_used(fake_emoji, fake_emoji_tarballs):
    _, pins = fake_emoji_tarballs
    kept = emoji_data.emoji_folder() / pins["twitter"].tarball
    kept.write_bytes(kept.read_bytes()[:-10])
    with pytest.raises(IntegrityError, match="twitter"):
        fetch_packages(list(pins.values()), emoji_data.emoji_folder())


def test_missing_data_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KNOWGEN_DATA", str(tmp_path))
    emoji_data.emoji_table.cache_clear()
    with pytest.raises(FileNotFoundError, match="knowgen data fetch emoji"):
        load_dataset(DataConfig(name="emoji"))


def test_splits_are_by_emoji_and_held_out_pairs_train_in_one_style(fake_emoji):
    train = load_dataset(DataConfig(name="emoji", image_size=32))
    test = load_dataset(DataConfig(name="emoji", split="test", image_size=32))
    pairs = load_held_out_pairs(DataConfig(name="emoji", image_size=32))
    assert train.images.shape[1:] == (3, 32, 32) and train.class_names == list(emoji_data.GROUPS)
    train_emoji = set(train.attributes["emoji"].tolist())
    assert not train_emoji & set(test.attributes["emoji"].tolist())  # unseen in every style
    assert len(pairs) and set(pairs.attributes["emoji"].tolist()) <= train_emoji
    for e, style in zip(pairs.attributes["emoji"].tolist(), pairs.attributes["style"].tolist(),
                        strict=True):  # fmt: skip
        trained = train.attributes["style"][train.attributes["emoji"] == e].tolist()
        assert trained == [1 - style]  # in training in the other style only
    table = emoji_data.emoji_table()
    assert "Component" not in {table.groups[e] for e in train_emoji}
    assert train.descriptions[0] == table.names[int(train.attributes["emoji"][0])]
    assert all(d == d.lower() for d in train.descriptions)
    assert (train.attributes["skin"] == 0).all()  # tones are off by default


def test_skin_tones_and_subgroups_on_request(fake_emoji):
    toned = load_dataset(DataConfig(name="emoji", skin_tones=True))
    plain = load_dataset(DataConfig(name="emoji"))
    assert set(toned.attributes["skin"].tolist()) == {0, 1, 5}
    assert len(toned) == len(plain) + 4 * (toned.attributes["emoji"] == 1).any().item()
    by_subgroup = load_dataset(DataConfig(name="emoji", label="subgroup"))
    assert "skin-tone" not in by_subgroup.class_names
    assert len(by_subgroup.class_names) == int(by_subgroup.labels.max()) + 1


def test_one_style_on_request(fake_emoji):
    both = load_dataset(DataConfig(name="emoji"))
    google = load_dataset(DataConfig(name="emoji", styles=("google",)))
    assert len(google) == int((both.attributes["style"] == 0).sum())
    assert (google.attributes["style"] == 0).all() and google.class_names == both.class_names
    few = DataConfig(name="emoji", styles=("twitter",), limit=20)
    assert len(load_dataset(few)) == 20
    assert few.subset_tag != DataConfig(name="emoji", limit=20).subset_tag  # other cache keys
    pairs = load_held_out_pairs(DataConfig(name="emoji", styles=("twitter",)))
    assert (pairs.attributes["style"] == 1).all()


def test_emoji_settings_are_refused_elsewhere_and_checked():
    with pytest.raises(ValueError, match="data.styles is an emoji setting"):
        DataConfig(name="digits", styles=("google",))
    with pytest.raises(ValueError, match=r"data.styles \['apple'\]: choose among"):
        DataConfig(name="emoji", styles=("apple",))
    with pytest.raises(ValueError, match="data.label is an emoji setting"):
        DataConfig(name="digits", label="group")
    with pytest.raises(ValueError, match="'group' or 'subgroup'"):
        DataConfig(name="emoji", label="colour")


def test_rgb_is_composited_on_white():
    rgba = np.array([[[200, 0, 0, 255], [200, 0, 0, 0], [0, 0, 0, 128]]], np.uint8)
    rgb = emoji_data.composite_on_white(rgba)
    assert rgb.tolist() == [[[200, 0, 0], [255, 255, 255], [127, 127, 127]]]


def test_the_styles_are_drawn_as_made(fake_emoji):
    data = load_dataset(DataConfig(name="emoji"))
    corner = data.images[:, :, 0, 0]  # outside both the disc and the square: white
    assert (corner == 255).all()
    google = data.images[data.attributes["style"] == 0][:, :, 32 - 22, 32 - 22].float()
    twitter = data.images[data.attributes["style"] == 1][:, :, 32 - 18, 32 - 18].float()
    assert (google == 255).all() and not (twitter == 255).all(0).all()  # disc vs square


def test_a_damaged_cache_is_rebuilt_with_a_warning(fake_emoji, caplog):
    first = emoji_data.cached_arrays()
    (cache,) = [p for p in (emoji_data.cache_dir("datasets")).iterdir() if p.suffix == ".npz"]
    cache.write_bytes(cache.read_bytes()[:200])
    with caplog.at_level(logging.WARNING, logger="knowgen"):
        again = emoji_data.cached_arrays()
    assert "damaged" in caplog.text
    assert torch.equal(torch.from_numpy(first["images"]), torch.from_numpy(again["images"]))
    assert not [p for p in cache.parent.iterdir() if p.name.endswith(".tmp")]
    assert os.path.getsize(cache) > 200
