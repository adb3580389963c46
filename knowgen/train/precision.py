"""`train.precision = "auto"`: bf16 autocast where the hardware runs bf16 matrix math natively
*and* a one-off micro-benchmark shows it faster; fp32 everywhere else.

Why measure instead of trusting a CPU flag: oneDNN's bf16 convolutions are much faster than fp32
on Intel AMX tiles, but on CPUs whose only bf16 support is AVX-512 `vdpbf16ps` (some AMD EPYC)
the conversions can eat the gain, and autocast adds casts of its own. The benchmark times a few
forward + backward passes of the convolutions a 28 px DCGAN step is made of, at batch 64, in
both precisions; bf16 is chosen only when it is at least `MIN_SPEEDUP` faster. The verdict is
cached per machine (CPU model, flags, threads, torch version) in the knowgen cache folder, so it
costs a second once per machine, not per run.
"""

from __future__ import annotations

import functools
import json
import logging
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from knowgen.cache import cache_dir, read_cache, store

log = logging.getLogger(__name__)

MIN_SPEEDUP = 1.1  # bf16 must beat fp32 by this factor on the micro-benchmark to be chosen
CACHE_VERSION = 1


@dataclass(frozen=True)
class PrecisionChoice:
    """What `train.precision` resolved to, and the one-line reason a person reads in the log."""

    precision: str  # "fp32", "bf16" or "fp16"
    reason: str
    speedup: float | None = None  # bf16 over fp32 on the micro-benchmark, when it ran


def cpu_bf16_units() -> list[str]:
    """The CPU's native bf16 matrix features PyTorch sees: AMX tiles, AVX-512 BF16 dot products."""
    units = []
    cpu = torch.cpu  # private probes of torch's own CPU dispatch; absent ones count as absent
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        units.append("amx")
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        units.append("avx512_bf16")
    return units


def machine_key(device: torch.device) -> str:
    """What the verdict depends on: the processor, its bf16 units, threads, torch's version."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()} {cpu_model()}"
        name += f" {'+'.join(cpu_bf16_units()) or 'no-bf16'} threads={torch.get_num_threads()}"
    return f"{device.type}: {name} torch {torch.__version__}"


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else the empty string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _median_seconds(step, repeats: int = 5) -> float:
    step()  # warm-up: oneDNN picks and caches its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_bf16_speedup(device: torch.device) -> float:
    """fp32 time / bf16-autocast time of D's and G's main convolutions (forward + backward) at
    batch 64, 28 px DCGAN sizes. Seeded and small: about a second on 2 CPU cores."""
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device).requires_grad_(True)

    x14, w_down = tensor(64, 64, 14, 14), tensor(128, 64, 4, 4)
    x7, w_up = tensor(64, 128, 7, 7), tensor(128, 64, 4, 4)

    def step(dtype: torch.dtype | None) -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            down = F.conv2d(x14, w_down, stride=2, padding=1)
            up = F.conv_transpose2d(x7, w_up, stride=2, padding=1)
            loss = down.float().square().mean() + up.float().square().mean()
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fp32 = _median_seconds(lambda: step(None))
    bf16 = _median_seconds(lambda: step(torch.bfloat16))
    return fp32 / bf16


@functools.lru_cache(maxsize=8)
def auto_precision(device: torch.device) -> PrecisionChoice:
    """bf16 where the device has native bf16 math and the (cached) micro-benchmark shows it at
    least `MIN_SPEEDUP` faster; otherwise fp32, with the reason."""
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            return PrecisionChoice("fp32", f"{torch.cuda.get_device_name(device)} has no bf16")
    elif device.type == "cpu":
        if not cpu_bf16_units():
            return PrecisionChoice("fp32", "this CPU has no bf16 matrix units (AMX, AVX-512 BF16)")
    else:
        return PrecisionChoice("fp32", f"bf16 autocast is not tried on {device.type}")
    key = machine_key(device)
    path = cache_dir("precision") / "auto.json"
    verdicts = _read_verdicts(path)
    speedup = verdicts.get(key)
    if speedup is None:
        log.info("precision auto: timing fp32 against bf16 once on this machine (%s)", key)
        speedup = round(measure_bf16_speedup(device), 3)
        verdicts[key] = speedup
        text = json.dumps({"version": CACHE_VERSION, "verdicts": verdicts})
        store(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    units = "GPU" if device.type == "cuda" else "+".join(cpu_bf16_units())
    if speedup >= MIN_SPEEDUP:
        reason = f"bf16 ran {speedup:.2f}x fp32's speed here ({units})"
        return PrecisionChoice("bf16", reason, speedup)
    return PrecisionChoice(
        "fp32",
        f"bf16 ran only {speedup:.2f}x fp32's speed here ({units}; needs {MIN_SPEEDUP}x)",
        speedup,
    )


def _read_verdicts(path: Path) -> dict[str, float]:
    """The cached verdicts; a damaged file is rebuilt (`read_cache`), one of another version
    replaced."""

    def read(path: Path) -> dict[str, float]:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != CACHE_VERSION:
            return {}
        return {str(k): float(v) for k, v in raw["verdicts"].items()}

    return read_cache(path, read, "precision verdict") or {}


def resolve_precision(requested: str, device: torch.device) -> PrecisionChoice:
    """`train.precision` as training will use it: "auto" decided here, the others as given."""
    if requested == "auto":
        return auto_precision(device)
    return PrecisionChoice(requested, "set in the config (train.precision)")


def describe(choice: PrecisionChoice) -> str:
    """One line for the run log and `knowgen info --machine`."""
    return f"precision {choice.precision}: {choice.reason}"
