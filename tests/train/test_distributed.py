"""Data-parallel training with real processes: torchrun, gloo, 2 ranks on the CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from knowgen.knowledge.encoders import Conditions
from knowgen.train.distributed import World

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "train" / "ddp_worker.py"
LINEAR = ['model.name="linear"', "train.steps=12", "train.checkpoint_every=6"]


def run(command: list[str], processes: int) -> subprocess.CompletedProcess:
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    result = subprocess.run(
        launcher + command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def train_worker(tmp: Path, name: str, processes: int, *settings: str, resume: bool = False):
    out, run_dir = tmp / f"{name}-weights", tmp / name
    args = [str(WORKER), str(out), str(run_dir)] + (["resume"] if resume else [])
    run(args + ["train.num_threads=1", *settings], processes)
    return [load_file(str(out / f"rank{r}.safetensors")) for r in range(processes)]


def assert_close(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), atol=atol), key


def test_ranks_hold_identical_weights_and_only_rank_0_writes(tmp_path):
    ranks = train_worker(tmp_path, "bn", 2, "train.steps=10", "train.checkpoint_every=5")
    for key, value in ranks[0].items():  # BatchNorm statistics are averaged before a save
        assert torch.equal(value, ranks[1][key]), key
    run_dir = tmp_path / "bn"
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").open()]
    assert len(steps) == len(set(steps))  # one writer: no step logged twice
    saved = sorted(p.name for p in (run_dir / "checkpoints").glob("step-*.pt"))
    assert saved == ["step-0000005.pt", "step-0000010.pt"]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> list[dict]:
    """Each rank's weights after `LINEAR` under 2 processes: one torchrun for two tests."""
    return train_worker(tmp_path_factory.mktemp("two"), "two", 2, *LINEAR)


@pytest.mark.machine_sensitive
def test_two_processes_match_one_with_the_same_global_batch(tmp_path, two_processes):
    (one,) = train_worker(tmp_path, "one", 1, *LINEAR)
    assert_close(one, two_processes[0], atol=1e-5)
    changed = [k for k in one if k.startswith("g.") and not torch.equal(one[k], 0 * one[k])]
    assert changed  # the comparison is about trained weights, not zeros


def test_resume_under_two_processes_continues_the_trajectory(tmp_path, two_processes):
    straight = two_processes
    train_worker(tmp_path, "resumed", 2, *LINEAR[:1], "train.steps=6", "train.checkpoint_every=6")
    resumed = train_worker(tmp_path, "resumed", 2, *LINEAR, resume=True)
    assert_close(straight[0], resumed[0], atol=1e-6)


def test_cli_under_torchrun(tmp_path):
    args = ["-m", "knowgen", "train", "--out", str(tmp_path / "cli"), "--data", "digits"]
    args += ["--preset", "linear", "--steps", "4", "--set", "train.batch_size=16"]
    result = run(args, 2)
    assert result.stderr.count("stopped at step 4") == 1  # rank 0 reports, rank 1 is quiet
    assert result.stdout.count("run ") == 1 and "step 4" in result.stdout
    assert (tmp_path / "cli" / "checkpoints" / "step-0000004.pt").is_file()


def test_batch_must_divide_among_processes():
    with pytest.raises(ValueError, match="does not divide among 3 processes"):
        World(rank=0, size=3).local_batch(16)
    world = World(rank=1, size=2)
    assert world.shard(torch.arange(8)).tolist() == [4, 5, 6, 7]
    cond = Conditions({"class": torch.arange(4)}, {"class": torch.tensor([1, 0, 1, 0]).bool()})
    sharded = world.shard_conditions(cond)
    assert sharded["class"].tolist() == [2, 3] and sharded.given["class"].tolist() == [True, False]


def test_every_collective_tensor_is_on_the_backends_device(monkeypatch):
    """NCCL takes CUDA tensors only: a CPU tensor in a collective breaks multi-GPU runs. Here
    the world's device is 'meta' and the collectives check what they are given."""
    import torch.distributed as dist

    from knowgen.train.distributed import World

    seen = []

    class Reached(Exception):
        pass

    def collective(tensor, *args, **kwargs):
        seen.append(tensor.device)
        raise Reached

    monkeypatch.setattr(dist, "broadcast", collective)
    monkeypatch.setattr(dist, "all_reduce", collective)
    world = World(rank=0, size=2, device=torch.device("meta"))
    for call in (lambda: world.agree(True), lambda: world.average_scalars({"a": 1.0}),
                 lambda: world.average_buffers(torch.nn.BatchNorm1d(2))):  # fmt: skip
        with pytest.raises(Reached):
            call()
    assert seen and all(device.type == "meta" for device in seen)


def test_a_bad_torchrun_environment_is_a_clear_error(monkeypatch):
    from knowgen.train.distributed import init_world

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "abc")
    with pytest.raises(ValueError, match="RANK='abc' is not an integer"):
        init_world("cpu")


def test_a_rank_0_set_up_failure_stops_every_rank(tmp_path):
    """Rank 0 refuses the run directory (a resume with nothing to resume); the other rank hears
    of it instead of waiting forever at a barrier."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(WORKER), str(tmp_path / "w"), str(tmp_path / "empty"),
               "resume", "train.num_threads=1", *LINEAR]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode != 0
    assert "nothing to resume" in result.stderr
    assert "rank 0 could not prepare the run directory" in result.stderr
