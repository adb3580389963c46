"""Data-parallel training on PyTorch's distributed engine: one process per device, started by
`torchrun`, gloo on CPU and NCCL on GPU.

Every rank draws the *global* batch's noise, conditions and indices from the same seeded RNG and
keeps its own slice, so N processes with global batch B follow the trajectory of one process
with batch B (up to the order of floating-point sums): each rank's losses are means over its
B/N images, and averaging the gradients over ranks gives the gradient of the global mean.

Gradients are averaged with one flat all-reduce per update, after `backward()` and before the
optimizer step, as NVIDIA's StyleGAN2-ADA/StyleGAN3 do, rather than through the
`DistributedDataParallel` wrapper: a GAN update makes several passes through D (real, generated,
mismatched captions, R1's double backward, G's pass through a frozen D) and reads D outside
`forward()` (`judge`, the Q head); DDP's reducer expects one `forward()` and one backward per
iteration and documents that `torch.autograd.grad` (the R1 and WGAN-GP penalties) is unsupported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from knowgen.knowledge import Conditions


@dataclass(frozen=True)
class World:
    """This process' place among the data-parallel processes (a plain run: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    # where collective tensors live: the backend's device (NCCL takes CUDA tensors only)
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes logs, samples and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def local_batch(self, global_batch: int) -> int:
        """Each rank's share of the global batch, which must divide evenly."""
        if global_batch % self.size:
            raise ValueError(
                f"train.batch_size={global_batch} does not divide among {self.size} processes; "
                f"choose a multiple of {self.size}"
            )
        return global_batch // self.size

    def shard(self, tensor: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global-batch tensor (B, ...)."""
        if not self.distributed:
            return tensor
        share = self.local_batch(len(tensor))
        return tensor[self.rank * share : (self.rank + 1) * share]

    def shard_conditions(self, cond: Conditions | None) -> Conditions | None:
        return None if cond is None else cond.map(self.shard)

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Replace each gradient by its mean over ranks (one flat all-reduce)."""
        if not self.distributed:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def average_buffers(self, *modules: nn.Module) -> None:
        """Average floating-point buffers (BatchNorm running statistics) over ranks, so that the
        networks rank 0 saves are what every rank holds. Parameters need no such step: equal
        gradients keep them equal."""
        if not self.distributed:
            return
        for module in modules:
            for buffer in module.buffers():
                if buffer.is_floating_point():
                    on_device = buffer.to(self.device)
                    dist.all_reduce(on_device)
                    buffer.copy_(on_device / self.size)

    def average_scalars(self, record: dict[str, float]) -> dict[str, float]:
        """Mean of each logged scalar over ranks (keys must agree)."""
        if not self.distributed or not record:
            return record
        keys = sorted(record)
        values = [float(record[k]) for k in keys]
        values = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return dict(zip(keys, (values / self.size).tolist(), strict=True))

    def agree(self, flag: bool) -> bool:
        """Rank 0's `flag` on every rank: stop decisions (time budget, Ctrl-C) must be taken
        together, or one rank would wait forever for the others' gradients."""
        if not self.distributed:
            return flag
        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def init_world(device: str = "cpu") -> World:
    """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*),
    joining its process group: NCCL when training on CUDA, gloo otherwise. Without torchrun, a
    world of one and no process group."""
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return World()
    local_rank = _env_int("LOCAL_RANK", 0)
    _env_int("RANK", 0)
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if not dist.is_initialized():
        dist.init_process_group("nccl" if wants_cuda else "gloo")
    where = torch.device("cuda", local_rank) if wants_cuda else torch.device("cpu")
    return World(dist.get_rank(), dist.get_world_size(), local_rank, where)


def _env_int(name: str, default: int) -> int:
    """An integer that torchrun puts in the environment, or a clear error naming it."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer") from None
    if value < 0:
        raise ValueError(f"environment variable {name}={value} must be >= 0")
    return value


LEAVE_TIMEOUT_S = 60.0
_leaves = 0


def leave_world(world: World) -> None:
    """Leave the process group `init_world` joined, once every rank is ready to.

    A rank that returns from the last collective may still have messages in flight to a slower
    peer; tearing its connections down then can abort the peer inside gloo's threads ("terminate
    called without an active exception"). So the ranks first check in through the rendezvous
    store (plain TCP request/response, not gloo): when all have checked in, every one has
    returned from every collective, and no gloo message is in flight.
    """
    if not (world.distributed and dist.is_initialized()):
        return
    global _leaves
    _leaves += 1  # every rank trains as often: the same key on each, a new one per run
    key = f"knowgen/left/{_leaves}"
    try:
        store = dist.distributed_c10d._get_default_store()
        store.add(key, 1)
        deadline = time.monotonic() + LEAVE_TIMEOUT_S
        while store.add(key, 0) < world.size and time.monotonic() < deadline:
            time.sleep(0.01)
    except Exception:  # the store is gone (a peer failed): leave anyway
        pass
    dist.destroy_process_group()
