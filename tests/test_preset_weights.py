"""No behaviour change by accident: every shipped preset, trained 20 steps on CPU with seed 1 on a
tiny stand-in dataset, must export the same generator weights, to the bit, as when the fixture
was recorded.

Why the training runs in a subprocess under portable kernels: a CPU's own kernels round
differently (ATen's AVX2 vs AVX-512 loops, oneDNN's ISA-specific convolutions, MKL's per-CPU GEMM
paths), and 20 adversarial steps amplify that rounding noise to whole tenths of a percent in some
presets (`modern`'s weights moved 0.25% between an AVX2 and an AVX-512 machine), the size of a
real change. A tolerance would have to be so wide it stops guarding. Instead the subprocess takes
the same arithmetic on every x86-64 CPU kind (AVX2 only, AVX-512, AVX-512 + AMX):

- `ATEN_CPU_CAPABILITY=default`: ATen's portable (non-AVX) vector loops;
- oneDNN and NNPACK off: convolutions by ATen's own im2col + GEMM;
- `MKL_CBWR=COMPATIBLE`: MKL's conditional numerical reproducibility, one GEMM code path on
  every Intel-compatible CPU;
- one thread, deterministic algorithms: every reduction splits the same way.

So the SHA-256 of the weights is exact everywhere. `test_other_kernel_sets_give_the_same_hash`
checks that claim on one machine by running the other kinds' kernel choices
(`ATEN_CPU_CAPABILITY`, `ONEDNN_MAX_CPU_ISA`, `MKL_ENABLE_INSTRUCTIONS`) around the subprocess
and finding the same hashes; without `MKL_CBWR` those hashes differ (measured 2026-12-05 on an
AMX Xeon), so the switches above are not decoration. Add new presets (and rewrite one whose
entry was deleted, in its own commit, saying why) with `python -m tests.test_preset_weights
--write`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from benchmarks.standin import standin_dataset
from knowgen.config import list_presets, resolve_config

FIXTURE = Path(__file__).parent / "fixtures" / "preset_weights.json"
ROOT = Path(__file__).parents[1]
STEPS = 20
TINY = [
    "train.seed=1",
    f"train.steps={STEPS}",
    "train.batch_size=16",
    "train.log_every=10",
    f"train.sample_every={STEPS}",
    f"train.checkpoint_every={STEPS}",
    "train.num_samples=4",
    "train.tensorboard=false",
    "model.width=8",
    'train.precision="fp32"',  # not "auto": the fixture must not depend on the machine's bf16
]
# what makes the arithmetic the same on every x86-64 CPU kind (module docstring)
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
WORKERS = 2  # subprocesses at once, one thread each: the 2 cores of the smallest machine
# seconds per preset under portable kernels where it is far from the ~1 s of most (measured on
# 2026-12-05): `text` embeds its ~4,800 captions, `dcgan-projected` trains its teacher. Only the
# order of the work depends on it (longest first), never a result.
SLOW_PRESETS = {"text": 41, "dcgan-projected": 12, "seed": 6, "fusion": 3, "fusion-shapes": 3}


def use_portable_kernels() -> None:
    """Inside the subprocess (its environment already holds `PORTABLE_ENV`): the switches that
    are not environment variables."""
    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def preset_weights(preset: str, run_dir: Path) -> dict[str, torch.Tensor]:
    """The exported generator weights of `preset` after 20 steps on its tiny dataset."""
    from knowgen.sampling import load
    from knowgen.train.loop import train

    cfg = resolve_config(preset, TINY)
    train(cfg, run_dir, dataset=standin_dataset(cfg.data.name, side=cfg.data.image_size))
    return load(run_dir).state_dict()


def fingerprint(weights: dict[str, torch.Tensor]) -> dict:
    """SHA-256 of every tensor's bytes in name order, and per tensor (sum, random projection):
    the hash decides, the per-tensor pair tells a failure which weights moved and how far."""
    digest = hashlib.sha256()
    stats = {}
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(name.encode() + tensor.numpy().tobytes())
        values = tensor.double().flatten()
        direction = torch.randn(len(values), generator=torch.Generator().manual_seed(0))
        stats[name] = [float(values.sum()), float(values @ direction.double())]
    return {"sha256": digest.hexdigest(), "tensors": stats}


def portable_fingerprints(presets: list[str], env: dict[str, str] | None = None) -> dict:
    """Each preset's fingerprint, trained under portable kernels in `WORKERS` subprocesses
    (`env` on top of this process's environment, then `PORTABLE_ENV` on top of both). A preset
    that fails to train comes back as {"error": its message}."""
    base = os.environ | (env or {}) | PORTABLE_ENV
    shares = [share for share in balanced_shares(presets) if share]
    with tempfile.TemporaryDirectory() as cache:
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.test_preset_weights", "--fingerprint", *share],
                cwd=ROOT,
                env=base | {"KNOWGEN_CACHE": cache},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for share in shares
        ]
        results = {}
        for child in children:
            out, err = child.communicate(timeout=600)
            if child.returncode != 0:
                raise RuntimeError(f"fingerprint subprocess failed:\n{err[-3000:]}")
            results |= json.loads(out.strip().splitlines()[-1])
    return results


def balanced_shares(presets: list[str]) -> list[list[str]]:
    """`presets` split over `WORKERS`, longest first onto the least loaded (so `text` trains
    beside all the others, not after half of them)."""
    shares: list[list[str]] = [[] for _ in range(WORKERS)]
    loads = [0.0] * WORKERS
    for name in sorted(presets, key=lambda n: -SLOW_PRESETS.get(n, 1)):
        lightest = loads.index(min(loads))
        shares[lightest].append(name)
        loads[lightest] += SLOW_PRESETS.get(name, 1)
    return shares


def moved_tensors(now: dict, recorded: dict, top: int = 5) -> str:
    """The tensors whose fingerprints moved most, relative to their size, for the failure."""
    rows = []
    for name, values in recorded["tensors"].items():
        if name not in now["tensors"]:
            rows.append((float("inf"), f"{name}: missing now"))
            continue
        scale = max(abs(v) for v in values) + 1e-12
        got = now["tensors"][name]
        change = max(abs(a - b) for a, b in zip(got, values, strict=True)) / scale
        rows.append((change, f"{name}: {got[0]:.6g} vs {values[0]:.6g} recorded ({change:.2e})"))
    rows += [(float("inf"), f"{n}: new") for n in now["tensors"] if n not in recorded["tensors"]]
    return "\n".join(text for _, text in sorted(rows, reverse=True)[:top])


@pytest.fixture(scope="module")
def fingerprints_now() -> dict:
    return portable_fingerprints(sorted(list_presets()))


@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_preset_weights_unchanged(preset, fingerprints_now):
    recorded = json.loads(FIXTURE.read_text())[preset]
    now = fingerprints_now[preset]
    assert "error" not in now, now.get("error")
    assert now["sha256"] == recorded["sha256"], (
        f"{preset}'s weights after {STEPS} portable steps changed; if on purpose, delete its entry "
        "and run `python -m tests.test_preset_weights --write`. Moved most:\n"
        + moved_tensors(now, recorded)
    )


# the kernel choices of the other CPU kinds, as this machine can emulate them
OTHER_KERNEL_SETS = {
    "avx2-only": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                  "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "sse4": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
             "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}  # fmt: skip


@pytest.mark.machine_sensitive
@pytest.mark.parametrize("kernels", sorted(OTHER_KERNEL_SETS))
def test_other_kernel_sets_give_the_same_hash(kernels):
    """The presets whose weights moved between an AVX2 and an AVX-512 machine under native
    kernels (modern, fusion-shapes, modern-cgan) hash the same under another kernel set."""
    presets = ["fusion-shapes", "modern", "modern-cgan"]
    now = portable_fingerprints(presets, env=OTHER_KERNEL_SETS[kernels])
    table = json.loads(FIXTURE.read_text())
    assert {p: now[p].get("sha256") for p in presets} == {p: table[p]["sha256"] for p in presets}


def _fingerprint_main(presets: list[str]) -> None:
    """The subprocess: train each preset under portable kernels and print one JSON line."""
    import logging

    logging.disable(logging.WARNING)
    use_portable_kernels()
    results = {}
    for name in presets:
        with tempfile.TemporaryDirectory() as folder:
            try:
                results[name] = fingerprint(preset_weights(name, Path(folder) / "run"))
            except Exception as err:  # reported per preset: one broken preset fails only itself
                results[name] = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(results), flush=True)


if __name__ == "__main__" and "--fingerprint" in sys.argv:
    _fingerprint_main(sys.argv[sys.argv.index("--fingerprint") + 1 :])
elif __name__ == "__main__" and "--write" in sys.argv:
    # presets already recorded keep their entries (rewrite one by deleting it from the file)
    table = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {}
    missing = sorted(set(list_presets()) - set(table))
    for name, entry in portable_fingerprints(missing).items():
        if "error" in entry:
            raise SystemExit(f"{name}: {entry['error']}")
        table[name] = entry
        print(name, entry["sha256"][:16], flush=True)
    FIXTURE.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
