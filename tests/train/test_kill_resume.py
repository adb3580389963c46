"""A run killed with SIGKILL resumes from its last checkpoint and ends on the same weights."""

import os
import signal
import subprocess
import sys
import time

import torch

from knowgen.train.checkpoint import latest_checkpoint, load_checkpoint
from tests.conftest import TINY

SETTINGS = [*TINY, "train.steps=400", "train.checkpoint_every=25"]
ARGS = [arg for setting in SETTINGS for arg in ("--set", setting)]


def run_cli(*args: str, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "knowgen", "train", *args]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)


def test_sigkill_then_resume_reaches_the_straight_result(tmp_path):
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    process = run_cli("--out", str(killed), *ARGS, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        newest = latest_checkpoint(killed)
        if newest is not None and load_checkpoint(newest)["step"] >= 100:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stopped_at = load_checkpoint(latest_checkpoint(killed))["step"]
    assert 100 <= stopped_at < 400, "the run should have been killed mid-way"

    resumed = run_cli("--resume", str(killed), env=env)
    straight_run = run_cli("--out", str(straight), *ARGS, env=env)
    for proc in (resumed, straight_run):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    a, b = load_checkpoint(latest_checkpoint(killed)), load_checkpoint(latest_checkpoint(straight))
    assert a["step"] == b["step"] == 400
    for key in ("generator", "discriminator", "ema_generator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"


def test_ctrl_c_stops_at_a_step_boundary_with_a_checkpoint(tmp_path):
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    run = tmp_path / "interrupted"
    process = run_cli("--out", str(run), *ARGS, env=env)
    deadline = time.time() + 120
    while latest_checkpoint(run) is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopping after this step" in err
    stopped = load_checkpoint(latest_checkpoint(run))["step"]
    assert 25 <= stopped < 400  # stopped early, and saved where it stopped
    assert (run / "samples" / f"step-{stopped:07d}.png").is_file()
    resumed = run_cli("--resume", str(run), env=env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert load_checkpoint(latest_checkpoint(run))["step"] == 400
