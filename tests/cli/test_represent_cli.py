"""`knowgen traverse`, `represent` and `probe` on a tiny InfoGAN run (8x8 digits)."""

import json

import numpy as np
import pytest
from PIL import Image

from knowgen.cache import read_tensors
from tests.cli.test_cli import TINY_ARGS, invoke

INFO_ARGS = ["--set", "model.info_categorical=[10]", "--set", "model.info_continuous=2"]


@pytest.fixture(scope="module")
def info_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "info"
    result = invoke("train", "--out", run, *TINY_ARGS, *INFO_ARGS)
    assert result.exit_code == 0, result.output
    return run


def test_info_lists_the_codes(info_run):
    result = invoke("info", info_run)
    assert result.exit_code == 0 and "c1: categorical (10 values)" in result.output


def test_traverse_writes_one_labelled_row_per_value(info_run, tmp_path):
    out = tmp_path / "c1.png"
    result = invoke("traverse", info_run, "--code", "c1", "--samples", 6, "--out", out)
    assert result.exit_code == 0, result.output
    width, height = Image.open(out).size
    assert height == 10 * (8 * 7 + 2) + 2  # ten values, 8 px images shown 7x, 2 px padding
    result = invoke("traverse", info_run, "--code", "c3", "--steps", 5, "--out", out)
    assert result.exit_code == 0 and Image.open(out).size[1] == 5 * (8 * 7 + 2) + 2
    result = invoke("traverse", info_run, "--code", "c7")
    assert result.exit_code == 2 and "unknown code 'c7'" in result.output


def test_traverse_needs_codes(tmp_path):
    run = tmp_path / "plain"
    assert invoke("train", "--out", run, *TINY_ARGS, "--steps", 2).exit_code == 0
    result = invoke("traverse", run)
    assert result.exit_code == 2 and "no InfoGAN codes" in result.output


def test_represent_writes_features_labels_and_codes(info_run, tmp_path):
    out = tmp_path / "feats.npy"
    result = invoke("represent", info_run, "--split", "test", "--out", out)
    assert result.exit_code == 0, result.output
    features, labels = np.load(out), np.load(tmp_path / "feats.labels.npy")
    codes = np.load(tmp_path / "feats.codes.npy")
    assert features.shape == (360, 8 * 4 * 4) and features.dtype == np.float32
    assert labels.shape == (360,) and codes.shape == (360, 3)
    assert set(np.unique(codes[:, 0])) <= set(range(10))
    again = tmp_path / "again.npy"
    assert invoke("represent", info_run, "--split", "test", "--out", again).exit_code == 0
    assert np.array_equal(np.load(again), features)  # eval mode: no batch dependence


def test_represent_refuses_an_export(info_run, tmp_path):
    assert invoke("export", info_run, "--out", tmp_path / "export").exit_code == 0
    result = invoke("represent", tmp_path / "export")
    assert result.exit_code == 2 and "has no checkpoint" in result.output


def test_probe_reports_features_beside_pixels(info_run):
    result = invoke("probe", info_run, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    for key in ("linear_probe", "knn", "pixels_linear_probe", "pixels_knn", "c1_nmi"):
        assert 0 <= report[key] <= 1, key
    assert report["pixels_linear_probe"] > 0.85  # digits: pixels are a strong baseline
    assert report["train_images"] == 1437 and report["test_images"] == 360
    assert json.loads((info_run / "probe.json").read_text())["knn"] == report["knn"]
    table = invoke("probe", info_run).output
    assert "linear probe" in table and "InfoGAN c1" in table


def test_invert_trains_the_encoder_once_and_redraws(info_run, tmp_path):
    out = tmp_path / "invert.png"
    result = invoke("invert", info_run, "--n", 6, "--steps", 30, "--out", out)
    assert result.exit_code == 0, result.output
    assert "mean squared error" in result.output
    assert Image.open(out).size[1] == 2 * (8 * 7 + 2) + 2  # originals above, G(E(x)) below
    saved = (info_run / "encoder.json").stat().st_mtime_ns
    assert invoke("invert", info_run, "--n", 3, "--steps", 30, "--out", out).exit_code == 0
    assert (info_run / "encoder.json").stat().st_mtime_ns == saved  # reused, not retrained
    result = invoke("invert", info_run, tmp_path / "missing.png")
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize("damage", ["truncated", "zero-byte"])
def test_a_damaged_encoder_cache_is_retrained_with_one_warning(info_run, tmp_path, damage):
    out = tmp_path / "invert.png"
    assert invoke("invert", info_run, "--n", 3, "--steps", 30, "--out", out).exit_code == 0
    weights = info_run / "encoder.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    result = invoke("invert", info_run, "--n", 3, "--steps", 30, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("is damaged") == 1 and "inversion encoder cache" in result.output
    assert read_tensors(weights)  # rebuilt, and sound


def test_invert_a_user_image(info_run, tmp_path):
    picture = tmp_path / "mine.png"
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(picture)
    out = tmp_path / "one.png"
    result = invoke("invert", info_run, picture, "--steps", 30, "--out", out)
    assert result.exit_code == 0, result.output and out.is_file()


def test_probe_on_encoder_features(info_run):
    result = invoke("probe", info_run, "--features", "encoder", "--n-train", 400, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["features"] == "encoder" and report["train_images"] == 400
    assert "c1_clustering_accuracy" in report
