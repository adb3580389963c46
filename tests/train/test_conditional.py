"""A short class-conditional run end to end: training with every stabiliser on, resume, export,
conditional generation, and the conditional metrics."""

import json

import pytest
import torch

from knowgen import KnowledgeError, export_generator, load
from knowgen.train.loop import train

CGAN = [
    'model.name="sagan"',
    'knowledge.condition="class"',
    "model.attention_at=[4]",
    "model.spectral_norm_d=true",
    "model.spectral_norm_g=true",
    "model.aux_classifier=true",
    'loss.kind="hinge"',
    "loss.r1_weight=1.0",
    "loss.r1_every=4",
    'train.diffaugment="translation,cutout,color"',
    "train.lr_d=4e-4",
    "train.betas=[0.0, 0.9]",
]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    from knowgen.config import resolve_config
    from tests.conftest import TINY

    run = tmp_path_factory.mktemp("runs") / "cgan"
    cfg = resolve_config("dcgan", TINY + CGAN + ["train.steps=60"])
    state = train(cfg, run)
    return run, cfg, state


def test_conditional_run_logs_every_loss_term(conditional_run):
    run, _, state = conditional_run
    assert state.generator.num_classes == 10 and state.step == 60
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    assert {"d_adv", "g_adv", "d_aux", "g_aux", "d_r1"} <= keys
    assert all(torch.isfinite(torch.tensor(r["d_adv"])) for r in records if "d_adv" in r)


def test_conditional_run_resumes_on_the_same_trajectory(conditional_run, tmp_path):
    from knowgen.config import resolve_config
    from tests.conftest import TINY

    _, _, straight = conditional_run
    cfg = resolve_config("dcgan", TINY + CGAN + ["train.steps=40"])
    train(cfg, tmp_path / "r")
    longer = resolve_config("dcgan", TINY + CGAN + ["train.steps=60"])
    resumed = train(longer, tmp_path / "r", resume=True)
    for a, b in zip(
        straight.generator.state_dict().values(),
        resumed.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_exported_conditional_generator_draws_the_classes_asked_for(conditional_run, tmp_path):
    run, _, _ = conditional_run
    generator = load(export_generator(run, tmp_path / "export"))
    assert generator.kinds == ("class",) and len(generator.class_names) == 10
    images = generator.sample(4, seed=1, class_=[3, 3, 7, 7]).images
    assert images.shape == (4, 1, 8, 8)
    again = generator.sample(4, seed=1, class_=torch.tensor([3, 3, 1, 1])).images
    assert torch.equal(images[:2], again[:2]) and not torch.equal(images[2:], again[2:])
    by_name = generator.sample(4, seed=1, class_=generator.class_names[3]).images
    assert torch.equal(by_name[:2], images[:2])
    with pytest.raises(KnowledgeError, match="4 values for 3 images"):
        generator.sample(3, class_=[3, 3, 7, 7])
    with pytest.raises(KnowledgeError, match="unknown class 'dress'; choose from 0, 1"):
        generator.sample(3, class_="dress")


def test_unconditional_generators_refuse_classes(tiny_config, tmp_path):
    train(tiny_config("train.steps=2"), tmp_path / "u")
    with pytest.raises(KnowledgeError, match="unconditional"):
        load(tmp_path / "u").sample(2, class_=[0, 1])


def test_conditional_metrics_are_reported(conditional_run):
    from knowgen.metrics.evaluate import evaluate_generator

    run, cfg, _ = conditional_run
    from dataclasses import replace

    eval_cfg = replace(cfg.eval, num_samples=200, kid_subset_size=100)
    scores = evaluate_generator(load(run), cfg.data, eval_cfg)
    assert 0 <= scores["conditional_accuracy"] <= 1
    assert len(scores["per_class_accuracy"]) == 10
    assert scores["intra_fid"] > 0 and len(scores["intra_fid_per_class"]) == 10
