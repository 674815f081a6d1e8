"""Two processes with a gloo group train exactly like one process holding both halves of the batch.

The loss gathers embeddings across processes so negatives are global; the gradients must then be
those of the big batch: every code row is pushed by every process's queries, not only its own
process's. Each process here embeds its half with a shared linear map W, computes the loss and
back-propagates; after the trainer's gradient averaging, W's gradient must equal the one-process
gradient of the whole batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from embedding.training.loss import SymmetricInfoNCE

ROWS, DIM, WORLD = 8, 16, 2


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x_q = torch.randn(ROWS, DIM, generator=generator)
    x_c = x_q + 0.5 * torch.randn(ROWS, DIM, generator=generator)
    weight = torch.randn(DIM, DIM, generator=generator)
    return x_q, x_c, weight


def _gradient(x_q: torch.Tensor, x_c: torch.Tensor, weight: torch.Tensor, symmetric: bool) -> torch.Tensor:
    w = weight.clone().requires_grad_(True)
    loss_fn = SymmetricInfoNCE(lambda texts: torch.zeros(0), temperature=0.1, symmetric=symmetric)
    q = torch.nn.functional.normalize(x_q @ w, dim=-1)
    c = torch.nn.functional.normalize(x_c @ w, dim=-1)
    loss_fn.compute_loss_from_embeddings(q, c).backward()
    assert w.grad is not None
    return w.grad


def _worker(rank: int, store: str, symmetric: bool, out: str) -> None:
    import torch.distributed as dist

    from embedding.training.trainer import _all_reduce_gradients

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        x_q, x_c, weight = _inputs()
        half = slice(rank * ROWS // WORLD, (rank + 1) * ROWS // WORLD)
        w = torch.nn.Parameter(weight.clone())
        loss_fn = SymmetricInfoNCE(lambda texts: torch.zeros(0), temperature=0.1, symmetric=symmetric)
        q = torch.nn.functional.normalize(x_q[half] @ w, dim=-1)
        c = torch.nn.functional.normalize(x_c[half] @ w, dim=-1)
        loss_fn.compute_loss_from_embeddings(q, c).backward()
        _all_reduce_gradients([w])
        if rank == 0:
            torch.save(w.grad, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("symmetric", [True, False])
def test_two_processes_get_the_gradient_of_the_whole_batch(tmp_path: Path, symmetric: bool) -> None:
    out = tmp_path / "grad.pt"
    mp.spawn(_worker, args=(str(tmp_path / "store"), symmetric, str(out)), nprocs=WORLD, join=True)
    distributed = torch.load(out)

    x_q, x_c, weight = _inputs()
    whole_batch = _gradient(x_q, x_c, weight, symmetric)
    local_only = _gradient(x_q[: ROWS // WORLD], x_c[: ROWS // WORLD], weight, symmetric)

    assert torch.allclose(distributed, whole_batch, atol=1e-6)
    assert not torch.allclose(distributed, local_only, atol=1e-3)  # the other process's rows mattered
