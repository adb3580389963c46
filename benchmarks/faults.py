"""Fault injection: kill -9 at random moments (some inside a checkpoint write), a disk that fills
up during a checkpoint, and two trainers on one run directory.

    python benchmarks/faults.py [--trials 20] [--in-write 5] [--seed 0] [--write-docs]

Each kill trial starts a tiny run (digits, dcgan, 2,000 steps, a checkpoint every 100) in a fresh
process, kills it with SIGKILL, resumes it (`knowgen train --resume`) to the end and compares the
final weights (G, D, EMA) with an uninterrupted run's, bit for bit. `--in-write` of the kills are
aimed inside a checkpoint write: the writer is held between its temp file and the rename
(`KNOWGEN_FAULT_PAUSE_S`) and killed when the temp file appears. After every kill, each
checkpoint on disk must load (none corrupt) and every checkpoint that loaded before the kill must
still be there unless rotation replaced it by a newer one (none lost).

Prints: trials, resumed, bit-identical, corrupt checkpoints, files lost; the disk-full outcome
(the error line, the checkpoints intact); the second trainer's refusal.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402
from knowgen.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402

STEPS = 2000
SETTINGS = [
    'data.name="digits"', 'model.name="dcgan"', "model.z_dim=8", "model.width=8",
    "train.batch_size=16", f"train.steps={STEPS}", "train.log_every=100",
    "train.sample_every=1000", "train.checkpoint_every=100", "train.keep_checkpoints=3",
    "train.num_samples=16",
    "train.tensorboard=false", "train.num_threads=1",
]  # fmt: skip
ARGS = [arg for setting in SETTINGS for arg in ("--set", setting)]
ENV = os.environ | {"OMP_NUM_THREADS": "1"}


def knowgen(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "knowgen", *map(str, args)]
    return subprocess.Popen(command, env=env or ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def weights(run: Path) -> dict[str, torch.Tensor]:
    payload = load_checkpoint(list_checkpoints(run)[-1])
    return {f"{part}.{k}": v for part in ("generator", "discriminator", "ema_generator")
            for k, v in payload[part].items()}  # fmt: skip


def loadable(run: Path) -> tuple[set[str], int]:
    """Names of the checkpoints that load, and how many do not."""
    good, bad = set(), 0
    for path in list_checkpoints(run):
        try:
            load_checkpoint(path)
            good.add(path.name)
        except ValueError:
            bad += 1
    return good, bad


def kill_trial(work: Path, reference: dict, rng: random.Random, in_write: bool) -> dict:
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    env = ENV | ({"KNOWGEN_FAULT_PAUSE_S": "0.5"} if in_write else {})
    process = knowgen("train", "--out", run, *ARGS, env=env)
    before: set[str] = set()
    if in_write:  # wait for a checkpoint write to be under way, after a random number of them
        wanted, deadline = rng.randint(2, 12), time.time() + 120
        seen = 0
        while process.poll() is None and time.time() < deadline:
            temps = list((run / "checkpoints").glob(".step-*.tmp")) if run.exists() else []
            if temps:
                seen += 1
                if seen >= wanted:
                    break
                time.sleep(0.55)  # let this write finish; catch a later one
            time.sleep(0.005)
    else:
        time.sleep(rng.uniform(2.0, 8.0))  # process start is ~2-3 s; the run ~5 s after that
    before = loadable(run)[0] if run.exists() else set()
    if process.poll() is not None:
        raise RuntimeError("the run ended before the kill; lengthen STEPS")
    process.send_signal(signal.SIGKILL)
    process.wait()
    after, corrupt = loadable(run) if run.exists() else (set(), 0)
    newest_before = max(before, default="")
    lost = len([n for n in before if n not in after and n >= min(after, default="~")])
    lost += int(bool(before) and max(after, default="") < newest_before)
    resumed = bool(after)
    if resumed:
        code, err = finish(knowgen("train", "--resume", run))
    else:  # killed before its first checkpoint: nothing to resume, so start again
        code, err = finish(knowgen("train", "--out", run, "--overwrite", *ARGS))
    if code != 0:
        raise RuntimeError(f"resume failed ({code}): {err[-500:]}")
    final = weights(run)
    identical = final.keys() == reference.keys() and all(
        torch.equal(final[k], reference[k]) for k in reference
    )
    return {"resumed": resumed, "identical": identical, "corrupt": corrupt, "lost": lost,
            "in_write": in_write, "checkpoints_at_kill": len(after)}  # fmt: skip


def disk_full(work: Path) -> dict:
    """Train into a 320 KiB tmpfs (root only) until it fills; the error line and the intact
    checkpoints are the result."""
    mount = work / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mount)],
                      capture_output=True).returncode:  # fmt: skip
        return {"skipped": "cannot mount a small tmpfs here (needs root)"}
    try:
        run = mount / "run"
        keep_all = ["--set", "train.keep_checkpoints=1000", "--set", "train.sample_every=1000"]
        code, err = finish(knowgen("train", "--out", run, *ARGS, *keep_all))
        good, corrupt = loadable(run)
        temps = list((run / "checkpoints").glob(".*.tmp"))
        line = [x for x in err.splitlines() if x.startswith("error:")]
        return {"exit": code, "error": line[-1] if line else err[-200:], "checkpoints": len(good),
                "corrupt": corrupt, "temp_files_left": len(temps)}  # fmt: skip
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def two_trainers(work: Path) -> dict:
    run = work / "shared"
    first = knowgen("train", "--out", run, *ARGS)
    deadline = time.time() + 60
    while not (run / ".lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    second_code, second_err = finish(knowgen("train", "--resume", run))
    first_code, _ = finish(first)
    return {"first_exit": first_code, "second_exit": second_code,
            "second_says": second_err.strip().splitlines()[-1] if second_err else ""}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--in-write", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        code, err = finish(knowgen("train", "--out", work / "reference", *ARGS))
        assert code == 0, err
        reference = weights(work / "reference")
        kinds = [True] * args.in_write + [False] * (args.trials - args.in_write)
        rng.shuffle(kinds)
        results = []
        for number, in_write in enumerate(kinds, 1):
            result = kill_trial(work, reference, rng, in_write)
            results.append(result)
            print(f"trial {number}: {result}", flush=True)
        summary = {
            "trials": len(results),
            "killed inside a checkpoint write": sum(r["in_write"] for r in results),
            "resumed": sum(r["resumed"] for r in results),
            "restarted (killed before a checkpoint)": sum(not r["resumed"] for r in results),
            "bit-identical": sum(r["identical"] for r in results),
            "corrupt checkpoints": sum(r["corrupt"] for r in results),
            "files lost": sum(r["lost"] for r in results),
        }
        full = disk_full(work)
        both = two_trainers(work)
    lines = [f"- {k}: {v}" for k, v in summary.items()]
    lines.append(f"- disk full during a run: {full}")
    lines.append(f"- two trainers on one run directory: {both}")
    print("\n".join(lines))
    if args.write_docs:
        body = (f"`python benchmarks/faults.py --trials {args.trials} --in-write {args.in_write}`"
                f" on {describe_machine()}:\n\n" + "\n".join(lines) + "\n")  # fmt: skip
        write_section(Path("docs/benchmarks.md"), "Faults", body)


if __name__ == "__main__":
    main()
