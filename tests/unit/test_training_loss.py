"""The symmetric InfoNCE loss, the gather across processes, batching and a toy training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_length_grouped_batches_keep_one_kind_similar_lengths_and_no_false_negatives() -> None:
    pairs = [
        TrainingPair(
            "text2code" if i % 2 else "code2code",
            "docstring" if i % 2 else "synthetic",
            "python",
            f"f{i % 7}.py",
            f"f{i % 7}.py::fn{i // 2}",
            "q" * (5 + i % 50),
            "c" * (40 + (i * 37) % 400),
            f"h{i // 2}",
        )
        for i in range(512)
    ]
    grouped = make_batches(pairs, 8, seed=3, group_by_length=True)
    plain = make_batches(pairs, 8, seed=3)

    def spread(batches: list[list[TrainingPair]]) -> float:
        lengths = [[len(p.query) + len(p.code) for p in b] for b in batches]
        return sum(max(row) - min(row) for row in lengths) / len(lengths)

    assert min(len(grouped), len(plain)) >= 60  # 512 pairs, 8 per batch, a few dropped for clashes
    assert all(len({p.kind for p in b}) == 1 for b in grouped)  # short-query batches pad queries little
    assert spread(grouped) < spread(plain) / 4
    for batch in grouped:
        assert len({p.function_key for p in batch}) == len({p.body_hash for p in batch}) == 8
    assert make_batches(pairs, 8, seed=3, group_by_length=True) == grouped
    assert make_batches(pairs, 8, seed=4, group_by_length=True) != grouped


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


def _toy_pairs() -> list[TrainingPair]:
    words = ["add", "sum", "read", "close", "push", "size", "print", "load"]
    return [
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


def test_loss_falls_on_a_toy_problem(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    pairs = _toy_pairs()
    config = TrainConfig(batch_size=8, epochs=20, learning_rate=2e-2, warmup_ratio=0.0, seed=0, temperature=0.1)
    lora = LoraSpec(r=8, alpha=16, dropout=0.0)
    result = train_adapter(Encoder(str(model_dir), device="cpu", max_length=16), "python", pairs, config, lora)
    assert result.steps == 20
    assert sum(result.losses[-5:]) / 5 < 0.6 * sum(result.losses[:5]) / 5
    # LoRA r=8 on query and value of 2 layers of width 32: A (32x8) + B (8x32) per projection.
    assert result.trainable_parameters == 2 * 2 * (32 * 8 + 8 * 32)
    assert (
        result.trainable_share == pytest.approx(2048 / result.base_parameters)
        and result.to_dict()["base_parameters"] == result.base_parameters
    )
    # Same seed, same run.
    rerun = train_adapter(Encoder(str(model_dir), device="cpu", max_length=16), "python", pairs, config, lora)
    assert rerun.losses == pytest.approx(result.losses, rel=1e-4)


def test_pretokenised_encoding_matches_the_inference_path(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from tests.tiny_models import build_tiny_roberta

    encoder = Encoder(str(build_tiny_roberta(tmp_path / "m")), device="cpu", max_length=24)
    texts = ["def add(a, b):\n    return a + b\n", "x", "for i in range(10):\n    print(i, i * i)\n" * 4]
    from_text = torch.from_numpy(encoder.embed_texts(texts))  # the inference path: tokenizer.pad, own batching
    with torch.no_grad():
        from_ids = encoder.encode_token_ids(encoder.token_ids(texts))
    assert max(len(row) for row in encoder.token_ids(texts)) == 24  # truncated at max_length
    assert torch.allclose(from_text, from_ids, atol=1e-6)


def test_base_dropout_is_off_unless_asked_for_and_lora_dropout_stays_on(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec
    from embedding.training.trainer import _training_mode
    from tests.tiny_models import build_tiny_roberta

    encoder = Encoder(str(build_tiny_roberta(tmp_path / "m")), device="cpu", max_length=16)
    encoder.create_adapter("python", LoraSpec(r=4, alpha=8, dropout=0.1))
    _training_mode(encoder.model, base_dropout=False)
    modes = {name: module.training for name, module in encoder.model.named_modules()}
    lora_dropouts = [name for name in modes if name.endswith("lora_dropout.python")]
    assert lora_dropouts and all(modes[name] for name in lora_dropouts)
    assert not any(on for name, on in modes.items() if "lora_dropout" not in name)
    _training_mode(encoder.model, base_dropout=True)
    assert all(module.training for module in encoder.model.modules())


@pytest.mark.gpu
def test_bf16_training_on_cuda_lowers_the_loss_and_saves_a_loadable_adapter(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    config = TrainConfig(
        batch_size=8, epochs=40, learning_rate=2e-2, warmup_ratio=0.0, seed=0, temperature=0.1, bf16=True
    )
    encoder = Encoder(str(model_dir), device="cuda", max_length=16)
    result = train_adapter(encoder, "python", _toy_pairs(), config, LoraSpec(r=8, alpha=16, dropout=0.0))

    assert result.steps == 40 and len(result.losses) == 40
    assert sum(result.losses[-5:]) / 5 < 0.6 * sum(result.losses[:5]) / 5
    texts = [p.code for p in _toy_pairs()]
    trained = encoder.embed_texts(texts, adapter="python")
    saved = encoder.save_adapter("python", tmp_path / "adapter")
    reloaded = Encoder(str(model_dir), device="cuda", max_length=16)
    reloaded.load_adapter("python", saved)
    assert np.allclose(reloaded.embed_texts(texts, adapter="python"), trained, atol=2e-2)
    base = reloaded.embed_texts(texts)
    assert not np.allclose(base, trained, atol=2e-2)


def test_pairs_separated_by_the_margin_leave_the_loss_and_are_counted() -> None:
    torch.manual_seed(3)
    q = _unit(torch.randn(6, 16))
    c = q.clone()
    c[:3] = _unit(q[:3] + 1.5 * torch.randn(3, 16))  # three pairs the model does not separate yet
    loss_fn = SymmetricInfoNCE(lambda texts: torch.zeros(len(texts), 4), temperature=0.05, drop_margin=0.3)
    kept_loss = loss_fn.compute_loss_from_embeddings(q, c)
    pairs, kept, carrying = loss_fn.last_counts.tolist()
    assert pairs == 6 and 3 <= kept < 6 and carrying <= kept
    everything = _loss().compute_loss_from_embeddings(q, c)
    assert kept_loss > everything  # the mean over the pairs that teach, not diluted by the easy ones
    easy = SymmetricInfoNCE(lambda texts: torch.zeros(len(texts), 4), drop_margin=0.3)
    assert easy.compute_loss_from_embeddings(q, q) == 0.0 and easy.last_counts.tolist() == [6, 0, 0]


def test_without_a_margin_the_loss_is_the_plain_mean() -> None:
    torch.manual_seed(4)
    q, c = _unit(torch.randn(5, 8)), _unit(torch.randn(5, 8))
    t = 0.1
    labels = torch.arange(5)
    by_hand = (
        torch.nn.functional.cross_entropy(q @ c.T / t, labels) + torch.nn.functional.cross_entropy(c @ q.T / t, labels)
    ) / 2
    loss_fn = SymmetricInfoNCE(lambda texts: torch.zeros(len(texts), 4), temperature=t)
    assert torch.isclose(loss_fn.compute_loss_from_embeddings(q, c), by_hand)
    assert loss_fn.last_counts.tolist()[:2] == [5, 5]


def test_training_reports_the_share_of_each_epoch_that_carries_a_gradient(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.factories import make_function
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    pairs = _toy_pairs()
    functions = [make_function(p.code, path=p.path, qualified_name=p.function_key.split("::")[1]) for p in pairs]
    config = TrainConfig(
        batch_size=4, epochs=3, learning_rate=2e-2, warmup_ratio=0.0, temperature=0.1, drop_margin=0.05,
        hard_negative_mining="both", hard_negative_neighbours=2,
    )  # fmt: skip
    encoder = Encoder(str(model_dir), device="cpu", max_length=16)
    result = train_adapter(encoder, "python", pairs, config, LoraSpec(r=4, alpha=8, dropout=0.0), functions=functions)
    assert [e["epoch"] for e in result.epochs] == [0, 1, 2]
    for epoch in result.epochs:
        assert epoch["pairs"] == 8 and epoch["carrying"] <= epoch["pairs"] - epoch["dropped"]
        assert epoch["carrying_fraction"] == round(epoch["carrying"] / 8, 4)
    assert result.to_dict()["epochs"] == result.epochs and result.hard_negatives == "both"


def test_gradient_checkpointing_gives_the_same_steps_and_is_switched_off_after(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    lora = LoraSpec(r=4, alpha=8, dropout=0.0)
    runs = {}
    for on in (True, False):
        config = TrainConfig(batch_size=8, epochs=4, learning_rate=2e-2, warmup_ratio=0.0, gradient_checkpointing=on)
        encoder = Encoder(str(model_dir), device="cpu", max_length=16)
        runs[on] = train_adapter(encoder, "python", _toy_pairs(), config, lora).losses
        assert not encoder.model.get_base_model().is_gradient_checkpointing
    assert runs[True] == pytest.approx(runs[False], rel=1e-4)


def test_length_grouped_batches_keep_one_language_so_in_batch_negatives_are_not_free() -> None:
    pairs = [
        TrainingPair(
            "text2code",
            "docstring",
            ("python", "go", "ruby")[i % 3],
            f"f{i % 11}.x",
            f"f{i % 11}.x::fn{i}",
            "q" * (5 + i % 40),
            "c" * (40 + (i * 37) % 300),
            f"h{i}",
        )
        for i in range(480)
    ]
    grouped = make_batches(pairs, 8, seed=1, group_by_length=True)

    assert len(grouped) >= 50
    assert all(len({p.language for p in b}) == 1 for b in grouped)
    assert {b[0].language for b in grouped} == {"python", "go", "ruby"}


def test_neighbour_mining_embeds_with_the_start_point_whose_vectors_are_cacheable(tmp_path: Path) -> None:
    from embedding.adapters import CODE_ADAPTER
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.factories import make_function
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    pairs = _toy_pairs()
    functions = [make_function(p.code, path=p.path, qualified_name=p.function_key.split("::")[1]) for p in pairs]
    config = TrainConfig(batch_size=4, epochs=1, warmup_ratio=0.0, hard_negative_mining="neighbours")
    lora = LoraSpec(r=4, alpha=8, dropout=0.0)

    def adapters_used(encoder: Encoder) -> list[str | None]:
        used: list[str | None] = []
        embed = encoder.embed_texts

        def spy(texts, adapter=None, **kw):  # type: ignore[no-untyped-def]
            used.append(adapter)
            return embed(texts, adapter=adapter, **kw)

        encoder.embed_texts = spy  # type: ignore[method-assign]
        train_adapter(encoder, "python", pairs, config, lora, functions=functions)
        return used

    fresh = Encoder(str(model_dir), device="cpu", max_length=16)
    assert set(adapters_used(fresh)) == {None}  # a fresh adapter starts equal to the base

    started = Encoder(str(model_dir), device="cpu", max_length=16)
    started.create_adapter(CODE_ADAPTER, lora)
    started.load_adapter(CODE_ADAPTER, started.save_adapter(CODE_ADAPTER, tmp_path / "code"))
    assert set(adapters_used(started)) == {CODE_ADAPTER} and started.start_point("python") == CODE_ADAPTER


def _lora_grads(encoder, name: str) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {n: p.grad.clone() for n, p in encoder.model.named_parameters() if f".{name}." in n and p.grad is not None}


def test_gradient_caching_gives_the_whole_batch_gradients_and_loss(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    pairs = _toy_pairs()
    queries, codes = [p.query for p in pairs], [p.code for p in pairs]
    hard = ["def other(b): return b + 1", "def third(c): return [c]", "def fourth(d): return d * 2"]
    encoder = Encoder(str(model_dir), device="cpu", max_length=16)
    params = encoder.create_adapter("python", LoraSpec(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():  # move the adapter off zero so every LoRA matrix has a gradient
        for p in params:
            p.add_(torch.randn_like(p) * 0.1)
    encoder.model.eval()  # no dropout: the two passes of the whole batch must agree exactly
    loss_fn = SymmetricInfoNCE(lambda texts: encoder.encode_tensor(texts, adapter="python"), temperature=0.1)

    whole = loss_fn(queries, codes, hard)
    (whole * 0.5).backward()
    expected = _lora_grads(encoder, "python")
    encoder.model.zero_grad(set_to_none=True)
    chunked = loss_fn.chunked_backward(queries, codes, hard, chunk=3, scale=0.5)
    got = _lora_grads(encoder, "python")

    assert not chunked.requires_grad and float(chunked) == pytest.approx(float(whole.detach()), rel=1e-5)
    assert expected and got.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6)


def test_gradient_caching_replays_each_chunks_dropout_in_its_second_pass(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec
    from tests.tiny_models import build_tiny_roberta

    encoder = Encoder(str(build_tiny_roberta(tmp_path / "m")), device="cpu", max_length=16)
    with torch.no_grad():  # a fresh LoRA adds zero whatever its dropout: give it weight
        for p in encoder.create_adapter("python", LoraSpec(r=4, alpha=8, dropout=0.5)):
            p.add_(torch.randn_like(p) * 0.3)
    encoder.model.train()
    passes: dict[tuple[str, ...], list[torch.Tensor]] = {}

    def embed(texts):  # type: ignore[no-untyped-def]
        out = encoder.encode_tensor(texts, adapter="python")
        passes.setdefault(tuple(texts), []).append(out.detach().clone())
        return out

    pairs = _toy_pairs()
    SymmetricInfoNCE(embed, temperature=0.1).chunked_backward(
        [p.query for p in pairs], [p.code for p in pairs], chunk=3
    )
    assert len(passes) == 6  # 8 queries and 8 codes in chunks of 3
    for first, second in passes.values():
        torch.testing.assert_close(first, second)  # the same dropout masks both times
    codes = tuple(p.code for p in pairs[:3])
    with torch.no_grad():  # while a third pass draws new masks: the equality above is not free
        assert not torch.allclose(encoder.encode_tensor(list(codes), adapter="python"), passes[codes][0])


def test_training_with_gradient_caching_takes_the_same_steps(tmp_path: Path) -> None:
    from embedding.encoder import Encoder
    from embedding.training.config import LoraSpec, TrainConfig
    from embedding.training.trainer import train_adapter
    from tests.tiny_models import build_tiny_roberta

    model_dir = build_tiny_roberta(tmp_path / "m")
    lora = LoraSpec(r=4, alpha=8, dropout=0.0)
    runs = {}
    for chunk in (None, 3):
        config = TrainConfig(batch_size=8, epochs=4, learning_rate=2e-2, warmup_ratio=0.0, gradient_cache_chunk=chunk)
        runs[chunk] = train_adapter(
            Encoder(str(model_dir), device="cpu", max_length=16), "python", _toy_pairs(), config, lora
        ).losses
    assert len(runs[3]) == 4
    assert runs[3] == pytest.approx(runs[None], rel=1e-4)
