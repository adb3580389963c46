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


@pytest.mark.machine_sensitive
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
        ValueError, match=r"train.precision must be one of \['auto', 'fp32', 'bf16', 'fp16'\]"
    ):
        resolve_config("dcgan", ['train.precision="fp8"'])


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_compile_trains(tmp_path, monkeypatch):
    # a fresh kernel cache: one left by a run under other kernels (ATEN_CPU_CAPABILITY, as the
    # emulation passes of `make test` set) can abort the process when loaded (seen 2026-12-05)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    state = run(tmp_path, "train.compile=true", 'model.name="linear"')
    assert math.isfinite(last_losses(tmp_path / "run")["d_adv"])
    assert state.step == 12


@pytest.mark.parametrize("preset", ["modern", "dcgan-wgan-gp"])
def test_compile_with_a_gradient_penalty_is_refused_at_config_time(preset):
    """aot_autograd has no double backward: the R1/R2/GP step would fail after set-up."""
    with pytest.raises(ValueError, match="train.compile cannot train a gradient penalty"):
        resolve_config(preset, ["train.compile=true"])


# train.precision="auto": the real resolver (conftest pins it to fp32 for every other test)
from knowgen.train import precision as precision_module  # noqa: E402

REAL_AUTO = precision_module.auto_precision


@pytest.fixture
def real_auto(monkeypatch):
    """The unpinned resolver with a fake CPU: `units` and `speedup` as each test says; counts
    how often the micro-benchmark runs."""
    calls = []

    def configure(units, speedup):
        monkeypatch.setattr(precision_module, "cpu_bf16_units", lambda: list(units))

        def measure(device):
            calls.append(device)
            return speedup

        monkeypatch.setattr(precision_module, "measure_bf16_speedup", measure)
        REAL_AUTO.cache_clear()
        monkeypatch.setattr(precision_module, "auto_precision", REAL_AUTO)
        return calls

    yield configure
    REAL_AUTO.cache_clear()


def test_auto_picks_bf16_only_where_measured_faster(real_auto):
    cpu = torch.device("cpu")
    calls = real_auto(["amx"], 1.6)
    choice = precision_module.resolve_precision("auto", cpu)
    assert choice.precision == "bf16" and "1.60x" in choice.reason
    real_auto(["avx512_bf16"], 1.02)
    choice = precision_module.resolve_precision("auto", cpu)
    assert choice.precision == "fp32" and "1.02x" in choice.reason
    precision_module.resolve_precision("auto", cpu)
    assert len(calls) == 2  # once per machine (the two CPUs are two cache keys), then remembered


def test_auto_without_bf16_units_is_fp32_and_never_measures(real_auto):
    calls = real_auto([], 9.9)
    choice = precision_module.resolve_precision("auto", torch.device("cpu"))
    assert choice.precision == "fp32" and "no bf16" in choice.reason
    assert calls == []


def test_auto_verdict_is_cached_on_disk(real_auto):
    calls = real_auto(["amx"], 1.5)
    precision_module.resolve_precision("auto", torch.device("cpu"))
    REAL_AUTO.cache_clear()  # a new process: only the file remembers
    again = precision_module.resolve_precision("auto", torch.device("cpu"))
    assert again.precision == "bf16" and len(calls) == 1


def test_a_corrupt_verdict_cache_is_measured_again(real_auto):
    from knowgen.cache import cache_dir

    (cache_dir("precision") / "auto.json").write_text("{not json")
    calls = real_auto(["amx"], 1.5)
    assert precision_module.resolve_precision("auto", torch.device("cpu")).precision == "bf16"
    assert len(calls) == 1


def test_explicit_precision_is_kept():
    choice = precision_module.resolve_precision("fp16", torch.device("cpu"))
    assert choice.precision == "fp16" and "config" in choice.reason


def test_the_run_log_says_what_auto_chose(real_auto, tmp_path, caplog):
    real_auto(["amx"], 1.3)
    with caplog.at_level("INFO", logger="knowgen.train.loop"):
        state = run(tmp_path, 'train.precision="auto"')
    assert state.precision == "bf16"
    assert "precision bf16: bf16 ran 1.30x fp32's speed here (amx)" in caplog.text


def test_the_micro_benchmark_runs_for_real():
    speedup = precision_module.measure_bf16_speedup(torch.device("cpu"))
    assert 0.05 < speedup < 50
