"""The symmetric InfoNCE loss, the gather across processes, batching and a toy training run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedding.training.batching import functions_by_path, hard_negatives_for, make_batches
from embedding.training.distributed import gather_with_grad
from embedding.training.loss import SymmetricInfoNCE
from embedding.training.pairs import TrainingPair


def _loss(temperature: float = 0.05, symmetric: bool = True) -> SymmetricInfoNCE:
    return SymmetricInfoNCE(lambda texts: torch.zeros(len(texts), 4), temperature=temperature, symmetric=symmetric)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def test_aligned_pairs_score_lower_than_shuffled() -> None:
    torch.manual_seed(0)
    q = _unit(torch.randn(8, 16))
    aligned = _loss().compute_loss_from_embeddings(q, q)
    shuffled = _loss().compute_loss_from_embeddings(q, q.roll(1, dims=0))
    assert aligned < 0.1 < shuffled


def test_loss_matches_cross_entropy_by_hand() -> None:
    torch.manual_seed(1)
    q, c = _unit(torch.randn(4, 8)), _unit(torch.randn(4, 8))
    t = 0.1
    labels = torch.arange(4)
    forward = torch.nn.functional.cross_entropy(q @ c.T / t, labels)
    backward = torch.nn.functional.cross_entropy(c @ q.T / t, labels)
    assert torch.isclose(_loss(t, symmetric=False).compute_loss_from_embeddings(q, c), forward)
    assert torch.isclose(_loss(t).compute_loss_from_embeddings(q, c), (forward + backward) / 2)


def test_hard_negatives_raise_the_loss() -> None:
    torch.manual_seed(2)
    q = _unit(torch.randn(4, 8))
    c = _unit(q + 0.3 * torch.randn(4, 8))
    hard = _unit(q + 0.3 * torch.randn(4, 8))
    assert _loss().compute_loss_from_embeddings(q, c, hard) > _loss().compute_loss_from_embeddings(q, c)


def test_temperature_must_be_positive() -> None:
    with pytest.raises(ValueError, match="temperature"):
        _loss(temperature=0.0)


def test_gather_with_grad_under_a_one_process_group(tmp_path: Path) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        x = torch.randn(3, 4, requires_grad=True)
        gathered = gather_with_grad(x)
        assert gathered.shape == (3, 4)
        gathered.sum().backward()
        assert torch.equal(x.grad, torch.ones(3, 4))
        loss = _loss().compute_loss_from_embeddings(_unit(x), _unit(x.detach() + 0.1))
        assert torch.isfinite(loss)
    finally:
        dist.destroy_process_group()


def _pair(i: int, fn: int, body: str | None = None) -> TrainingPair:
    return TrainingPair(
        "text2code",
        "docstring",
        "python",
        f"f{fn % 3}.py",
        f"f{fn % 3}.py::fn{fn}",
        f"q{i}",
        f"code{i}",
        body or f"h{fn}",
    )


def test_batches_hold_no_function_or_body_hash_twice() -> None:
    pairs = [_pair(i, i % 10) for i in range(60)] + [_pair(100 + i, 50 + i, body="same") for i in range(5)]
    batches = make_batches(pairs, 4, seed=0)
    assert batches
    for batch in batches:
        assert len(batch) == 4
        assert len({p.function_key for p in batch}) == 4
        assert len({p.body_hash for p in batch}) == 4
    assert make_batches(pairs, 4, seed=0) == batches


def test_hard_negatives_come_from_the_same_file_and_avoid_the_batch() -> None:
    from tests.factories import make_function

    functions = [
        make_function(f"def fn{i}(x):\n    return x + {i}\n", path=f"f{i % 3}.py", qualified_name=f"fn{i}")
        for i in range(9)
    ]
    by_path = functions_by_path(functions)
    batch = [_pair(0, 0), _pair(1, 1)]
    negatives = hard_negatives_for(batch, by_path, seed=0)
    assert len(negatives) == 2
    allowed = {fn.code for fn in functions if fn.path in {"f0.py", "f1.py"} and fn.qualified_name not in {"fn0", "fn1"}}
    assert set(negatives) <= allowed


def test_loss_falls_on_a_toy_problem(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    words = ["add", "sum", "read", "close", "push", "size", "print", "load"]
    pairs = [
        TrainingPair(
            "text2code",
            "docstring",
            "python",
            f"m{i}.py",
            f"m{i}.py::f{i}",
            f"{w} {w}",
            f"def {w}(a): return {w}",
            f"h{i}",
        )
        for i, w in enumerate(words)
    ]
    config = TrainConfig(batch_size=8, epochs=20, learning_rate=2e-2, warmup_ratio=0.0, seed=0, temperature=0.1)
    lora = LoraSpec(r=8, alpha=16, dropout=0.0)
    result = train_adapter(Encoder(str(model_dir), device="cpu", max_length=16), "python", pairs, config, lora)
    assert result.steps == 20
    assert sum(result.losses[-5:]) / 5 < 0.6 * sum(result.losses[:5]) / 5
    # Same seed, same run.
    rerun = train_adapter(Encoder(str(model_dir), device="cpu", max_length=16), "python", pairs, config, lora)
    assert rerun.losses == pytest.approx(result.losses, rel=1e-4)
