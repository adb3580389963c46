"""The speed options: mixed precision, channels-last, torch.compile, SyncBatchNorm. They aim at
GPUs; here each one must at least train correctly on the CPU or refuse clearly."""

import math
import shutil

import pytest
import torch

from knowgen.config import resolve_config
from knowgen.train.loop import train
from tests.conftest import TINY


def run(tmp_path, *extra: str):
    cfg = resolve_config("dcgan", TINY + ["train.steps=12", *extra])
    return train(cfg, tmp_path / "run", overwrite=True)


def last_losses(run_dir):
    import json

    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if "d_adv" in line][-1]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_with_fp32_weights(tmp_path, precision):
    state = run(tmp_path, f'train.precision="{precision}"')
    assert all(p.dtype == torch.float32 for p in state.generator.parameters())
    losses = last_losses(tmp_path / "run")
    assert math.isfinite(losses["d_adv"]) and math.isfinite(losses["g_adv"])
    scaler = state.scaler_d
    assert scaler.is_enabled() == (precision == "fp16")  # loss scaling for fp16 only
    fp32 = run(tmp_path / "fp32")
    assert not torch.equal(  # it really ran in lower precision
        next(state.generator.parameters()), next(fp32.generator.parameters())
    )


def test_channels_last_follows_the_same_trajectory(tmp_path):
    plain = run(tmp_path / "plain")
    nhwc = run(tmp_path / "nhwc", "train.channels_last=true")
    conv = nhwc.discriminator.net[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(plain.generator.parameters(), nhwc.generator.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-4)


def test_sync_batchnorm_needs_gpus(tmp_path):
    with pytest.raises(ValueError, match="needs CUDA GPUs"):
        run(tmp_path, "train.sync_batchnorm=true")


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"train.precision must be one of \['fp32', 'bf16', 'fp16'\]"
    ):
        resolve_config("dcgan", ['train.precision="fp8"'])


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_compile_trains(tmp_path):
    state = run(tmp_path, "train.compile=true", 'model.name="linear"')
    assert math.isfinite(last_losses(tmp_path / "run")["d_adv"])
    assert state.step == 12
