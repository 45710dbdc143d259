"""Multi-process training with ``torch.distributed``: set-up from ``torchrun``'s environment.

One process per worker; ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous variables. The backend is gloo on CPU and nccl on GPU. Without those variables (a plain
``torchstn train``) everything here is a no-op with rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """The process that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: the local GPU when there is one, else the CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device: 'cuda' requested but no CUDA GPU is available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def setup(preference: str = "auto") -> DistInfo:
    """Join the process group when launched by ``torchrun`` with more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference, local)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=device)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def broadcast_buffers(model: nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's buffers: DDP sends them at the start of each forward, but the
    batch-norm statistics of the last step are each rank's own."""
    if info.distributed:
        for b in model.buffers():
            dist.broadcast(b, 0)


def all_reduce_sum(t: Tensor, info: DistInfo) -> Tensor:
    """Sum of ``t`` over all ranks (``t`` itself when not distributed)."""
    if not info.distributed:
        return t
    out = t.to(info.device).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(t.device)


def replicas_identical(model: nn.Module, info: DistInfo) -> bool:
    """Whether every rank holds bit-identical parameters and buffers (a cheap sanity check)."""
    if not info.distributed:
        return True
    flat = torch.cat([t.detach().reshape(-1).double() for t in model.state_dict().values()])
    flat = flat.to(info.device)
    gathered = [torch.empty_like(flat) for _ in range(info.world_size)]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])
