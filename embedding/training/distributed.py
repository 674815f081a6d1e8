"""Gathering embeddings across processes so that every device's pairs are negatives for all.

``torch.distributed.all_gather`` returns tensors without gradient; ``gather_with_grad`` wraps it
in an autograd function whose backward all-reduces the gradient of the gathered rows and hands
each process its own slice, so the gradients equal those of one batch holding every process's
pairs (``tests/unit/test_training_distributed.py`` checks this with two processes). With no
process group (one CPU or GPU) the tensor is returned unchanged.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# Only the first process evaluates, calibrates and writes the registry while the others wait at
# a barrier; on a large repository that takes far longer than the collectives' default timeout.
_GROUP_TIMEOUT = timedelta(hours=6)


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def join_from_environment(device: str) -> tuple[int, int, str]:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1) and
    return (rank, world size, this process's device); outside torchrun: (0, 1, ``device``).

    NCCL on one GPU per process (``LOCAL_RANK``) unless ``device`` is ``cpu`` or there is no CUDA,
    then gloo on the CPU.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 0, 1, device
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=_GROUP_TIMEOUT)
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    else:
        device = "cpu"
    return dist.get_rank(), dist.get_world_size(), device


def is_main_process() -> bool:
    return world()[0] == 0


def wait_for_all() -> None:
    """A barrier across processes; nothing without a process group."""
    if world()[1] > 1:
        dist.barrier()


def gather_with_grad(local: torch.Tensor) -> torch.Tensor:
    """Rows of every process concatenated in rank order, differentiable with respect to all of them.

    ``local`` is (B, D) with the same B on every process; the result is (world * B, D). In the
    backward pass every process receives the gradient of ALL processes' losses with respect to its
    own rows (an all-reduce of the gathered gradient), so that with the trainer's averaging of
    parameter gradients the update is exactly that of one big batch: a code embedding is pushed by
    the queries of other devices for which it was a negative, not only by its own device's.
    """
    _, size = world()
    if size == 1:
        return local
    return _GatherRows.apply(local)  # type: ignore[no-any-return]


class _GatherRows(torch.autograd.Function):
    """all_gather forward; backward: all-reduce the gathered gradient and keep this process's rows."""

    @staticmethod
    def forward(ctx: Any, local: torch.Tensor) -> torch.Tensor:
        rank, size = world()
        gathered = [torch.empty_like(local) for _ in range(size)]
        dist.all_gather(gathered, local.detach().contiguous())
        ctx.rank, ctx.rows = rank, local.shape[0]
        return torch.cat(gathered, dim=0)  # (world * B, D)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.contiguous().clone()
        dist.all_reduce(total)  # sum over processes of d(loss_p) / d(gathered rows)
        return total[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def global_offset(batch_size: int) -> int:
    """Index of this process's first row in the gathered batch."""
    rank, _ = world()
    return rank * batch_size
