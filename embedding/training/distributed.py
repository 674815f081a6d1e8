"""Gathering embeddings across processes so that every device's pairs are negatives for all.

``torch.distributed.all_gather`` returns tensors without gradient; putting the local tensor
back into its own slot keeps the gradient for this process's rows (each process then
back-propagates through its own rows, and the loss is averaged the same way everywhere). With no
process group (one CPU or GPU) the tensor is returned unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(local: torch.Tensor) -> torch.Tensor:
    """Rows of every process concatenated in rank order, this process's rows keeping their gradient.

    ``local`` is (B, D) with the same B on every process; the result is (world * B, D).
    """
    import torch
    import torch.distributed as dist

    rank, size = world()
    if size == 1:
        return local
    gathered = [torch.empty_like(local) for _ in range(size)]
    dist.all_gather(gathered, local.detach().contiguous())
    gathered[rank] = local  # the one slice that carries this process's gradient
    return torch.cat(gathered, dim=0)  # (world * B, D)


def global_offset(batch_size: int) -> int:
    """Index of this process's first row in the gathered batch."""
    rank, _ = world()
    return rank * batch_size
