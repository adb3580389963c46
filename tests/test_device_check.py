"""benchmarks/device_check.py, the GPU self-check, run small on the CPU so that it cannot rot
between the rare sessions that have a GPU."""

from __future__ import annotations

import json
import math

import torch

from benchmarks import device_check


def test_the_quick_check_passes_every_path_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "check.json"
    # the three kinds of network the speed rows time; every preset trains in test_loop.py
    presets = ["cgan", "dcgan", "modern-cgan"]
    rc = device_check.main(
        ["--device", "cpu", "--quick", "--presets", *presets, "--json", str(out)]
    )
    table = capsys.readouterr().out
    assert rc == 0, table
    results = json.loads(out.read_text())
    assert sorted(results["presets"]) == presets
    for row in results["presets"].values():
        assert row["finite"] and row["checkpoint"] and row["resume_gap"] == 0.0
        assert row["sample_shape"] == "4x1x28x28"
    speed = results["speed"]
    assert len(speed) == 2 * len(device_check.QUICK.speed_modes)  # dcgan and modern-cgan
    assert all(rate > 0 for rate in speed.values())
    assert results["torchrun"]["ok"] and results["torchrun"]["backend"] == "gloo"
    assert math.isfinite(results["quality"]["fid"])
    assert "| preset `modern-cgan` | ok:" in table and "0 failure(s)" in table
    assert not torch.are_deterministic_algorithms_enabled()  # the caller's settings are back


def test_asking_for_a_missing_gpu_is_one_clear_line(capsys):
    if torch.cuda.is_available():
        return
    assert device_check.main(["--device", "cuda"]) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err
