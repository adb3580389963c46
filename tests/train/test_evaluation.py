import json

import pytest
import torch

from knowgen.train.checkpoint import load_checkpoint
from knowgen.train.loop import train

EVAL = ["eval.every_steps=20", "eval.num_samples=300", "eval.kid_subset_size=100"]


def test_evaluation_logs_metrics_keeps_best_and_leaves_the_trajectory_alone(tiny_config, tmp_path):
    plain = train(tiny_config(), tmp_path / "plain")
    judged = train(tiny_config(*EVAL), tmp_path / "judged")
    for a, b in zip(plain.generator.parameters(), judged.generator.parameters(), strict=True):
        assert torch.equal(a, b)

    lines = (tmp_path / "judged" / "metrics.jsonl").read_text().splitlines()
    evals = [json.loads(line) for line in lines if "fid" in line]
    assert [e["step"] for e in evals] == [20, 40]
    assert all(e["fid"] > 0 and 0 <= e["precision"] <= 1 for e in evals)
    best = json.loads((tmp_path / "judged" / "checkpoints" / "best.json").read_text())
    assert best["fid"] == pytest.approx(min(e["fid"] for e in evals), abs=1e-5)
    assert load_checkpoint(tmp_path / "judged" / "checkpoints" / "best.pt")["step"] == best["step"]
