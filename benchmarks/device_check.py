"""One command that says whether knowgen works on a device, a GPU above all, and how fast.

It checks, on the device:
- every preset: a few hundred steps with finite losses, a checkpoint, a resume that lands on the
  same weights as the straight run (same device, deterministic algorithms), export and sample;
- images/s of dcgan, cgan, modern and modern-cgan at batch 64 and 512, in fp32, `auto`, and bf16 +
  channels-last (+ torch.compile where the preset allows it);
- torchrun over every visible GPU (NCCL on CUDA; one gloo process on the CPU);
- a short quality run of dcgan and its FID (Fashion-MNIST where installed, else digits).

Data: scikit-learn's bundled digits, dressed as each preset's data (`benchmarks/standin.py`), so
the check needs nothing installed beyond the package. It prints one table, and with
`--write-docs` puts it in docs/benchmarks.md. `--quick` is a smoke run of every path in seconds:
the test suite runs `--device cpu --quick`, so that the GPU check cannot rot unseen.

    python benchmarks/device_check.py                          # cuda, under 8 minutes
    python benchmarks/device_check.py --device cpu --quick     # the suite's smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.curves import read_metrics  # noqa: E402
from benchmarks.machine import describe_machine, write_section  # noqa: E402
from benchmarks.standin import standin_dataset  # noqa: E402
from benchmarks.throughput import knowgen_windows  # noqa: E402
from knowgen.config import list_presets, resolve_config  # noqa: E402
from knowgen.data import DataConfig, load_dataset  # noqa: E402
from knowgen.data.datasets import FASHION_MNIST_DEBIAN_DIR  # noqa: E402
from knowgen.metrics.config import EvalConfig  # noqa: E402
from knowgen.metrics.evaluate import evaluate_generator  # noqa: E402
from knowgen.sampling import export_generator, load  # noqa: E402
from knowgen.train.loop import train  # noqa: E402

SECTION = "Device self-check"
SPEED_PRESETS = ("dcgan", "cgan", "modern", "modern-cgan")


@dataclass(frozen=True)
class Plan:
    """How much of each check to run: the full one for a GPU, a seconds-long smoke run."""

    preset_steps: int
    speed_presets: tuple[str, ...]
    speed_batches: tuple[int, ...]
    speed_steps: int
    speed_modes: tuple[str, ...]
    torchrun_steps: int
    quality_minutes: float | None  # None: `quality_steps` instead of a wall budget
    quality_steps: int
    eval_samples: int
    extra: tuple[str, ...] = field(default=())  # settings for every run (quick: tiny networks)


FULL = Plan(300, SPEED_PRESETS, (64, 512), 30, ("fp32", "auto", "bf16+cl", "bf16+cl+compile"),
            100, 2.0, 0, 10_000)  # fmt: skip
# every code path once, small: compile is left to the suite's own test (it takes ~20 s)
QUICK = Plan(4, ("dcgan", "modern-cgan"), (8,), 3, ("fp32", "auto", "bf16+cl"), 2, None, 4, 500,
             ("model.width=8", "model.z_dim=8"))  # fmt: skip
MODES = {
    "fp32": ['train.precision="fp32"'],
    "auto": ['train.precision="auto"'],
    "bf16+cl": ['train.precision="bf16"', "train.channels_last=true"],
    "bf16+cl+compile": ['train.precision="bf16"', "train.channels_last=true", "train.compile=true"],
}


def settings(device: str, plan: Plan, *extra: str) -> list[str]:
    """What every run of the check sets: the device, quiet logs, no TensorBoard."""
    return [f'train.device="{device}"', "train.tensorboard=false", "train.num_samples=4",
            *plan.extra, *extra]  # fmt: skip


def check_preset(preset: str, device: str, plan: Plan, work: Path) -> dict:
    """Train `preset` straight and in two halves (checkpoint + resume), then export and sample."""
    steps, half = plan.preset_steps, plan.preset_steps // 2
    common = settings(device, plan, "train.seed=1", "train.batch_size=16", "train.log_every=1",
                      f"train.sample_every={steps}", f"train.checkpoint_every={half}")  # fmt: skip
    cfg = resolve_config(preset, [*common, f"train.steps={steps}"])
    data = standin_dataset(cfg.data.name, side=cfg.data.image_size)
    start = time.perf_counter()
    train(cfg, work / "straight", dataset=data)
    seconds = time.perf_counter() - start
    train(resolve_config(preset, [*common, f"train.steps={half}"]), work / "halves", dataset=data)
    train(cfg, work / "halves", resume=True, dataset=data)
    losses = [v for r in read_metrics(work / "straight") for k, v in r.items() if "_" in k]
    straight, resumed = load(work / "straight").state_dict(), load(work / "halves").state_dict()
    gap = max(float((straight[k].double() - resumed[k].double()).abs().max()) for k in straight)
    export = export_generator(work / "straight")
    generator = load(export)
    knowledge = {"text": "a light summer dress"} if "text" in generator.kinds else {}
    images = generator.sample(4, seed=0, **knowledge).images
    return {
        "finite": all(math.isfinite(v) for v in losses),
        "checkpoint": any((work / "straight" / "checkpoints").glob("step-*.pt")),
        "resume_gap": gap,
        "sample_shape": "x".join(map(str, images.shape)),
        "steps_per_s": steps / seconds,
    }


def check_speed(preset: str, batch: int, mode: str, device: str, plan: Plan) -> float:
    """Median images/s of knowgen's loop over the last half of `plan.speed_steps` steps."""
    data = standin_dataset(resolve_config(preset, []).data.name, count=max(batch * 2, 256))
    window = max(plan.speed_steps // 3, 1)
    steps = plan.speed_steps
    run = [f"train.batch_size={batch}", f"train.steps={steps}", f"train.log_every={window}",
           f"train.sample_every={steps}", f"train.checkpoint_every={steps}"]  # fmt: skip
    cfg = resolve_config(preset, settings(device, plan, *MODES[mode], *run))
    rates = knowgen_windows(data, cfg, steps, window)
    return statistics.median(rates[len(rates) // 2 :])  # the first window: warm-up (and compile)


def check_torchrun(device: str, plan: Plan, work: Path) -> dict:
    """`knowgen train` under torchrun over every visible GPU (one CPU process without any)."""
    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    processes = max(gpus, 1)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", "-m", "knowgen", "train", "--data", "digits",
               "--preset", "dcgan", "--out", str(work / "torchrun"),
               "--steps", str(plan.torchrun_steps), "--set", "train.batch_size=64"]  # fmt: skip
    for setting in settings("cuda" if gpus else "cpu", plan):
        command += ["--set", setting]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    ok = result.returncode == 0 and f"stopped at step {plan.torchrun_steps}" in result.stderr
    backend = "nccl" if gpus else "gloo"
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return {"processes": processes, "backend": backend, "ok": ok, "error": "" if ok else last}


def quality_data() -> str:
    """Fashion-MNIST where it is installed (its evaluator is shipped), else the bundled digits
    (their evaluator trains once, about half a minute on 2 CPU cores)."""
    installed = FASHION_MNIST_DEBIAN_DIR.is_dir() or os.environ.get("KNOWGEN_DATA")
    return "fashion-mnist" if installed else "digits"


def check_quality(device: str, plan: Plan, work: Path) -> dict:
    """dcgan for `quality_minutes` (or steps), then its FID by the data's evaluator."""
    data = quality_data()
    budget = (f"train.minutes={plan.quality_minutes}" if plan.quality_minutes
              else f"train.steps={plan.quality_steps}")  # fmt: skip
    cfg = resolve_config("dcgan", settings(device, plan, f'data.name="{data}"', budget,
                                           "train.log_every=10"))  # fmt: skip
    state = train(cfg, work / "quality")
    eval_cfg = EvalConfig(num_samples=plan.eval_samples, reference_num=plan.eval_samples)
    scores = evaluate_generator(load(work / "quality"), DataConfig(name=data), eval_cfg)
    return {"data": data, "steps": state.step, "fid": scores["fid"],
            "eval_seconds": scores["eval_seconds"]}  # fmt: skip


def attempt(check, *args) -> dict:
    """Run one check; a failure becomes a row that says why, never the end of the check."""
    try:
        return check(*args)
    except Exception as err:  # reported in the table: the point of the check
        traceback.print_exc()
        return {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"}


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    return describe_machine()


def report(device: str, plan: Plan, results: dict) -> str:
    """The one table (Markdown) of everything the check found."""
    lines = [f"Device: {device_name(device)}; torch {torch.__version__}.", "",
             "| check | result |", "| --- | --- |"]  # fmt: skip
    for preset, row in results["presets"].items():
        if "error" in row:
            text = f"**FAIL** {row['error']}"
        else:
            same = "identical" if row["resume_gap"] == 0 else f"max gap {row['resume_gap']:.2e}"
            good = row["finite"] and row["checkpoint"]
            text = (f"{'ok' if good else '**FAIL**'}: {plan.preset_steps} steps, losses "
                    f"{'finite' if row['finite'] else 'NOT finite'}, resume {same}, sample "
                    f"{row['sample_shape']}, {row['steps_per_s']:.1f} steps/s")  # fmt: skip
        lines.append(f"| preset `{preset}` | {text} |")
    for (preset, batch, mode), rate in results["speed"].items():
        text = f"{rate:,.0f} images/s" if isinstance(rate, float) else f"**FAIL** {rate['error']}"
        lines.append(f"| speed `{preset}` batch {batch} {mode} | {text} |")
    run = results["torchrun"]
    text = (f"ok: {run['processes']} process(es), {run['backend']}" if run.get("ok")
            else f"**FAIL** {run.get('error')}")  # fmt: skip
    lines.append(f"| torchrun | {text} |")
    quality = results["quality"]
    text = (f"**FAIL** {quality['error']}" if "error" in quality else
            f"dcgan on {quality['data']}, {quality['steps']} steps: FID {quality['fid']:.2f} "
            f"({plan.eval_samples:,} samples, {quality['eval_seconds']:.1f} s)")  # fmt: skip
    lines.append(f"| quality | {text} |")
    return "\n".join(lines)


def failures(results: dict) -> int:
    bad = sum("error" in r or not (r["finite"] and r["checkpoint"])
              for r in results["presets"].values())  # fmt: skip
    bad += sum(not isinstance(rate, float) for rate in results["speed"].values())
    bad += not results["torchrun"].get("ok", False)
    return bad + ("error" in results["quality"])


@contextlib.contextmanager
def deterministic():
    """The same device, the same trajectory: deterministic kernels (cuBLAS and cuDNN included),
    so that a resumed run can land on the straight run's weights; the caller's settings come
    back afterwards."""
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.benchmark = before[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--presets", nargs="*", help="only these presets (default: all)")
    parser.add_argument("--write-docs", action="store_true", help="put the table in the docs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {args.device}, but torch sees no CUDA GPU (torch "
              f"{torch.__version__}); run with --device cpu", file=sys.stderr)  # fmt: skip
        return 2
    plan = QUICK if args.quick else FULL
    load_dataset(DataConfig(name="digits"))  # fail here, not in every row, if data is missing
    presets = args.presets or sorted(list_presets())
    start = time.perf_counter()
    results: dict = {"presets": {}, "speed": {}}
    with tempfile.TemporaryDirectory() as tmp, deterministic():
        work = Path(tmp)
        for preset in presets:
            print(f"preset {preset} ...", file=sys.stderr, flush=True)
            results["presets"][preset] = attempt(check_preset, preset, args.device, plan,
                                                 work / preset)  # fmt: skip
        for preset in [p for p in plan.speed_presets if p in presets]:
            for batch in plan.speed_batches:
                for mode in plan.speed_modes:
                    print(f"speed {preset} {batch} {mode} ...", file=sys.stderr, flush=True)
                    rate = attempt(check_speed, preset, batch, mode, args.device, plan)
                    results["speed"][(preset, batch, mode)] = rate
        print("torchrun ...", file=sys.stderr, flush=True)
        results["torchrun"] = attempt(check_torchrun, args.device, plan, work)
        print("quality ...", file=sys.stderr, flush=True)
        results["quality"] = attempt(check_quality, args.device, plan, work)
    table = report(args.device, plan, results)
    bad = failures(results)
    print(table)
    print(f"\n{bad} failure(s); {time.perf_counter() - start:.0f} s in all")
    if args.json:
        speed = {" ".join(map(str, key)): value for key, value in results["speed"].items()}
        args.json.write_text(json.dumps(results | {"speed": speed}, indent=1, default=str))
    if args.write_docs:
        command = "python benchmarks/device_check.py" + (" --quick" if args.quick else "")
        command += f" --device {args.device}"
        write_section(str(ROOT / "docs" / "benchmarks.md"), SECTION, f"`{command}`\n\n{table}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
