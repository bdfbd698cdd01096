"""Data-parallel training with PyTorch DDP under ``torchrun`` (gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node N -m rnnkit train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`setup` joins the process group. Rank ``r`` of ``N`` trains on
batches ``b * N + r`` of the task, DDP averages the gradients, so every rank takes the
same optimizer step and ends with the same weights. Only rank 0 writes logs and
checkpoints; every rank reads the checkpoint on resume.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process sits in the job."""

    rank: int  # this process's index, 0 .. world - 1
    world: int  # number of processes
    device: torch.device  # where this process computes

    @property
    def main(self) -> bool:
        """Whether this process writes logs and checkpoints."""
        return self.rank == 0


def setup(device: str | torch.device | None = None) -> Context:
    """Join the process group when launched by torchrun (or use an existing group); else a single process.

    ``device`` None means CUDA when available, else CPU; a CUDA device without an index
    becomes ``cuda:LOCAL_RANK``. The backend follows the device: NCCL for CUDA, gloo for CPU.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"expected device like 'cpu', 'cuda' or 'cuda:1', got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but CUDA is not available here")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    return Context(rank, world, device)


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """The model wrapped in DDP when there are several processes (weights broadcast from rank 0)."""
    if ctx.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def all_sum(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Sum a small tensor over the ranks (identity for one process)."""
    if ctx.world > 1:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()
