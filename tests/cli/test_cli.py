"""The command line: happy paths, and one clear line (exit 2) for every user mistake."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from knowgen import load
from knowgen.cli import app
from tests.conftest import TINY

runner = CliRunner()
TINY_ARGS = [arg for setting in TINY for arg in ("--set", setting)]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = invoke("train", "--out", run, *TINY_ARGS)
    assert result.exit_code == 0, result.output
    return run


def test_presets_lists_descriptions():
    result = invoke("presets")
    assert result.exit_code == 0 and "dcgan" in result.output and "(default)" in result.output


def test_export_then_sample_round_trip(trained_run, tmp_path):
    result = invoke("export", trained_run, "--out", tmp_path / "export")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "export").iterdir()} == {
        "generator.safetensors",
        "generator.json",
    }
    from_export = load(tmp_path / "export").sample(8, seed=3).images
    from_run = load(trained_run).sample(8, seed=3).images
    assert np.array_equal(from_export.numpy(), from_run.numpy())

    out, npy = tmp_path / "grid.png", tmp_path / "images.npy"
    result = invoke("sample", tmp_path / "export", "--n", 10, "--out", out, "--npy", npy)
    assert result.exit_code == 0, result.output
    assert np.load(npy).shape == (10, 1, 8, 8) and np.load(npy).dtype == np.uint8
    assert Image.open(out).size[0] > 8


def test_sample_outdir_writes_one_png_per_image_named_by_seed(trained_run, tmp_path):
    result = invoke("sample", trained_run, "--n", 5, "--outdir", tmp_path / "plain")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "plain").iterdir())[-1] == "000004.png"
    result = invoke("sample", trained_run, "--seeds", "3,7-9", "--outdir", tmp_path / "seeds")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "seeds").iterdir())
    assert names == ["seed000003.png", "seed000007.png", "seed000008.png", "seed000009.png"]
    seed_7 = load(trained_run).sample(1, seed=7).pil()[0]
    saved = Image.open(tmp_path / "seeds" / "seed000007.png")
    assert np.array_equal(np.asarray(saved), np.asarray(seed_7))
    for bad, message in (("9-3", "not a range"), ("x", "give seeds like")):
        result = invoke("sample", trained_run, "--seeds", bad, "--outdir", tmp_path / "bad")
        assert result.exit_code == 2 and message in result.output
    result = invoke("sample", trained_run, "--seeds", "0-3")
    assert result.exit_code == 2 and "--outdir" in result.output


def test_info_summarises_the_run(trained_run):
    result = invoke("info", trained_run)
    assert result.exit_code == 0, result.output
    assert "step-0000040.pt" in result.output and "digits" in result.output


def test_resume_extends_a_finished_run(trained_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    result = invoke("train", "--resume", copy, "--steps", 45)
    assert result.exit_code == 0, result.output
    assert "step 45" in result.output


def test_train_on_an_image_folder(tmp_path):
    for i in range(20):
        Image.new("RGB", (12, 12), (i * 10, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    args = ["train", "--data", tmp_path, "--out", tmp_path / "run", *TINY_ARGS]
    result = invoke(*args, "--set", "data.image_size=8", "--steps", 2)
    assert result.exit_code == 0, result.output

    # evaluation without labels: the class-free metrics in Inception features, the rest skipped
    result = invoke("evaluate", tmp_path / "run", "--n", 10)
    assert result.exit_code == 2 and "--inception-weights" in result.output
    import torch

    from knowgen.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    weights = tmp_path / "pt_inception-test.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)
    result = invoke("evaluate", tmp_path / "run", "--n", 10, "--inception-weights", weights)
    assert result.exit_code == 0, result.output
    assert "FID (Inception-v3)" in result.output and "skipped" in result.output
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["inception_fid"] > 0 and saved["num_reference"] == 20 and "fid" not in saved


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--set", "train.wrong=1"], "unknown config key train.wrong"),
        (["train", "--set", "train.steps=ten"], "train.steps must be an integer"),
        (["train", "--data", "/no/such/place"], "neither a dataset name"),
        (["train", "--set", 'data.path="/no/such"'], "no Fashion-MNIST IDX files"),
        (["train", "--resume", "/no/such/run"], "does not exist"),
        (["sample", "/no/such/run"], "does not exist"),
        (["info", "/no/such/run"], "does not exist"),
        (["export", "/no/such/run"], "no checkpoints"),
    ],
)
def test_user_errors_are_one_clear_line(args, message, tmp_path):
    result = invoke(*args, *(["--out", tmp_path / "x"] if args[:1] == ["train"] else []))
    if "--resume" in args:
        result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreadable_checkpoint_is_one_clear_line(trained_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    for checkpoint in (copy / "checkpoints").iterdir():
        checkpoint.write_bytes(b"truncated")
    result = invoke("sample", copy, "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "unreadable or corrupt" in result.output


KID = ["--set", "eval.kid_subset_size=100"]


def test_evaluate_prints_a_table_and_writes_eval_json(trained_run):
    import json

    result = invoke("evaluate", trained_run, "--n", 300, *KID)
    assert result.exit_code == 0, result.output
    assert "FID (evaluator features)" in result.output and "precision" in result.output
    scores = json.loads((trained_run / "eval.json").read_text())
    assert scores["num_samples"] == 300 and scores["num_reference"] == 360
    assert "evaluated   FID" in invoke("info", trained_run).output
    result = invoke("evaluate", trained_run, "--n", 300, "--json", *KID)
    assert json.loads(result.stdout)["fid"] == scores["fid"]  # seeded samples: repeatable


def test_sample_by_class_writes_labelled_rows(trained_run, tmp_path):
    out = tmp_path / "classes.png"
    result = invoke("sample", trained_run, "--n", 200, "--by-class", 5, "--out", out)
    assert result.exit_code == 0, result.output
    width, height = Image.open(out).size
    assert height > 10 * 8 and width > 5 * 8


COND_ARGS = [
    arg
    for setting in (
        'model.name="sagan"',
        'knowledge.condition="class"',
        "model.spectral_norm_d=true",
        'loss.kind="hinge"',
    )
    for arg in ("--set", setting)
]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cgan"
    result = invoke("train", "--out", run, *TINY_ARGS, *COND_ARGS)
    assert result.exit_code == 0, result.output
    return run


def test_sample_named_classes_one_row_each(conditional_run, tmp_path):
    out, npy = tmp_path / "two.png", tmp_path / "two.npy"
    result = invoke(
        "sample",
        conditional_run,
        "--class",
        "3",
        "--class",
        "7",
        "--n",
        4,
        "--out",
        out,
        "--npy",
        npy,
    )
    assert result.exit_code == 0, result.output
    assert np.load(npy).shape == (8, 1, 8, 8)
    assert "wrote 8 samples (4 per row)" in result.output
    width, height = Image.open(out).size
    assert height < 3 * (8 * 7 + 2) < width  # two rows of 4 enlarged images, labels on the left


def test_sample_unknown_class_lists_the_valid_ones(conditional_run, tmp_path):
    result = invoke("sample", conditional_run, "--class", "zebra", "--out", tmp_path / "x.png")
    assert result.exit_code == 2
    assert "unknown class 'zebra'; choose from 0, 1, 2" in result.output


def test_class_needs_a_conditional_generator(trained_run, tmp_path):
    result = invoke("sample", trained_run, "--class", "3", "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "unconditional generator" in result.output


def test_conditional_by_class_asks_the_generator_for_each_class(conditional_run, tmp_path):
    out = tmp_path / "rows.png"
    result = invoke("sample", conditional_run, "--by-class", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote 30 samples (3 per row)" in result.output


def test_evaluate_reports_conditional_accuracy(conditional_run):
    result = invoke("evaluate", conditional_run, "--n", 300, *KID)
    assert result.exit_code == 0, result.output
    assert "conditional accuracy" in result.output and "intra-class FID" in result.output


@pytest.mark.parametrize("kind", ["conditional", "unconditional"])
def test_evaluate_cas_beside_the_same_classifier_on_real_images(kind, conditional_run, trained_run):
    run = conditional_run if kind == "conditional" else trained_run
    result = invoke("evaluate", run, "--n", 300, "--cas", "--json", *KID)
    assert result.exit_code == 0, result.output
    scores = json.loads((run / "eval.json").read_text())
    assert 0 <= scores["cas"] <= 1 and scores["cas_num_images"] == 300
    # 300 real digits teach this classifier far more than 40 steps of a tiny GAN's images
    assert scores["cas_real"] > 0.5 and scores["cas_real"] > scores["cas"] + 0.2


def test_info_machine_says_what_auto_picks_here():
    # the suite pins precision "auto" to fp32 (conftest)
    result = invoke("info", "--machine")
    assert result.exit_code == 0, result.output
    assert "precision   fp32" in result.output and "(train.precision=auto)" in result.output
