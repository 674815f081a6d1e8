"""Encoder on a tiny random RoBERTa: pooling, normalisation, batching, truncation and the cache."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import AdapterError, ConfigError
from core.settings import Settings
from embedding.adapters import base_model_id
from embedding.cache import EmbeddingCache
from embedding.encoder import Encoder, function_text
from embedding.pooling import l2_normalise, length_batches, mean_pool
from tests.factories import make_function
from tests.tiny_models import TINY_CORPUS, build_tiny_roberta

TEXTS = [
    "x",
    *TINY_CORPUS,
    "def long(a):\n" + "    a = a + 1\n" * 40 + "    return a\n",
    "return None",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("models") / "tiny-roberta")


@pytest.fixture
def encoder(tiny_model: Path) -> Encoder:
    return Encoder(str(tiny_model), batch_size=3, device="cpu")


# --- pure pieces -----------------------------------------------------------------------------


def test_mean_pool_ignores_whatever_sits_at_padded_positions() -> None:
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    garbage = hidden.clone()
    garbage[0, 3:] = 1e6

    pooled = mean_pool(garbage, mask)

    assert torch.allclose(pooled[0], hidden[0, :3].mean(dim=0))
    assert torch.allclose(pooled[1], hidden[1].mean(dim=0))


def test_mean_pool_of_an_all_padding_row_is_zero_not_nan() -> None:
    pooled = mean_pool(torch.randn(1, 3, 4), torch.zeros(1, 3, dtype=torch.long))
    assert torch.equal(pooled, torch.zeros(1, 4))


def test_l2_normalise_gives_unit_rows() -> None:
    rows = l2_normalise(torch.randn(6, 8) * 50)
    assert torch.allclose(rows.norm(dim=-1), torch.ones(6), atol=1e-6)


def test_length_batches_cover_every_index_once_longest_first() -> None:
    lengths = [5, 1, 9, 9, 3, 7, 2]
    batches = length_batches(lengths, 3)

    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [len(batch) for batch in batches] == [3, 3, 1]
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(lengths, reverse=True)
    assert batches[0][:2] == [2, 3]  # equal lengths keep input order


def test_length_batches_without_bucketing_follow_input_order() -> None:
    assert length_batches([5, 1, 9, 3], 3, bucket=False) == [[0, 1, 2], [3]]


def test_length_batches_refuses_an_empty_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        length_batches([1, 2], 0)


def test_function_text_puts_the_docstring_before_the_code() -> None:
    documented = make_function("def f():\n    return 1\n", docstring="Return one.")
    bare = make_function("def g():\n    return 2\n")

    assert function_text(documented) == "Return one.\ndef f():\n    return 1\n"
    assert function_text(bare) == bare.code


# --- encoder ---------------------------------------------------------------------------------


def test_vectors_are_float32_and_unit_length(encoder: Encoder) -> None:
    vectors = encoder.embed_texts(TEXTS)

    assert vectors.shape == (len(TEXTS), encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_padding_does_not_change_a_vector(encoder: Encoder) -> None:
    short = TEXTS[0]
    alone = encoder.embed_texts([short])
    beside_a_long_text = encoder.embed_texts([short, TEXTS[-2]])  # pads `short` by dozens of tokens

    np.testing.assert_allclose(beside_a_long_text[0], alone[0], atol=1e-5)


def test_bucketed_and_input_order_batching_give_the_same_vectors(tiny_model: Path) -> None:
    bucketed = Encoder(str(tiny_model), batch_size=3, device="cpu", length_bucketing=True)
    naive = Encoder(str(tiny_model), batch_size=3, device="cpu", length_bucketing=False)

    np.testing.assert_allclose(bucketed.embed_texts(TEXTS), naive.embed_texts(TEXTS), atol=1e-5)


def test_rows_do_not_depend_on_input_order_or_batch_size(encoder: Encoder, tiny_model: Path) -> None:
    order = list(range(len(TEXTS)))
    random.Random(7).shuffle(order)
    reference = encoder.embed_texts(TEXTS)
    shuffled = encoder.embed_texts([TEXTS[i] for i in order])
    one_at_a_time = Encoder(str(tiny_model), batch_size=1, device="cpu").embed_texts(TEXTS)

    np.testing.assert_allclose(shuffled, reference[order], atol=1e-5)
    np.testing.assert_allclose(one_at_a_time, reference, atol=1e-5)


def test_text_beyond_max_length_is_truncated(tiny_model: Path) -> None:
    encoder = Encoder(str(tiny_model), max_length=16, device="cpu")
    head = "def f(a, b):\n    return a + b + a + b + a + b + a + b\n"
    vectors = encoder.embed_texts([head, head + "# a long tail the model never sees\n" * 5])

    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_embed_query_and_embed_functions_match_embed_texts(encoder: Encoder) -> None:
    functions = [make_function(code, docstring="Doc." if i % 2 else None) for i, code in enumerate(TINY_CORPUS[:4])]
    expected = encoder.embed_texts([function_text(fn) for fn in functions])

    np.testing.assert_allclose(encoder.embed_functions(functions), expected, atol=1e-6)
    np.testing.assert_allclose(
        encoder.embed_query(function_text(functions[1]), language="python"), expected[1], atol=1e-6
    )


def test_empty_input_gives_an_empty_matrix(encoder: Encoder) -> None:
    assert encoder.embed_texts([]).shape == (0, encoder.dim)
    assert encoder.embed_functions([]).shape == (0, encoder.dim)


def test_unknown_adapter_is_an_adapter_error(encoder: Encoder) -> None:
    with pytest.raises(AdapterError, match="not loaded"):
        encoder.embed_texts(["x"], adapter="python")


def test_bad_settings_are_config_errors(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match="max_length"):
        Encoder(str(tiny_model), max_length=2)
    with pytest.raises(ConfigError, match="device"):
        Encoder(str(tiny_model), device="tpu")


def test_local_base_has_a_stable_id_and_a_base_version(tiny_model: Path, encoder: Encoder) -> None:
    again = Encoder(str(tiny_model), device="cpu")

    assert encoder.base_model_id == again.base_model_id
    assert encoder.base_model_id.startswith("tiny-roberta@")
    assert encoder.adapter_version("python") == "tiny-roberta:base"
    assert encoder.adapter_version(None) == "tiny-roberta:base"


def test_a_local_base_keeps_its_id_when_moved_but_not_when_its_weights_change(tiny_model: Path, tmp_path: Path) -> None:
    moved = shutil.copytree(tiny_model, tmp_path / "elsewhere" / tiny_model.name)
    other = build_tiny_roberta(tmp_path / "other" / tiny_model.name, hidden_size=16)

    assert base_model_id(str(moved), str(moved)) == base_model_id(str(tiny_model), str(tiny_model))
    assert base_model_id(str(other), str(other)) != base_model_id(str(tiny_model), str(tiny_model))


def test_from_settings_without_adapters_uses_the_base(tiny_model: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, base_model=str(tiny_model), adapter_dir=tmp_path / "none-yet", embedding_cache=False
    )
    encoder = Encoder.from_settings(settings)

    assert (encoder.adapters, encoder.cache) == ([], None)
    assert encoder.adapter_version("python") == "tiny-roberta:base"


# --- cache -----------------------------------------------------------------------------------


def test_cache_hits_return_identical_vectors_without_a_forward_pass(tiny_model: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    first = Encoder(str(tiny_model), batch_size=3, device="cpu", cache=cache)
    computed = first.embed_texts(TEXTS)
    assert (first.stats.embedded, first.stats.cache_hits) == (len(TEXTS), 0)

    # A fresh encoder (another process, a later run) finds every vector in the cache.
    second = Encoder(str(tiny_model), batch_size=3, device="cpu", cache=EmbeddingCache(cache.path))
    reused = second.embed_texts(TEXTS)

    assert np.array_equal(reused, computed)
    assert (second.stats.embedded, second.stats.cache_hits, second.stats.batches) == (0, len(TEXTS), 0)


def test_only_new_texts_are_embedded_and_duplicates_once(tiny_model: Path, tmp_path: Path) -> None:
    encoder = Encoder(str(tiny_model), device="cpu", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    encoder.embed_texts(TEXTS[:3])
    encoder.stats.reset()

    vectors = encoder.embed_texts([TEXTS[0], TEXTS[5], TEXTS[5], TEXTS[1]])

    assert (encoder.stats.embedded, encoder.stats.cache_hits) == (1, 2)
    np.testing.assert_array_equal(vectors[1], vectors[2])


def test_cache_entries_are_keyed_by_max_length(tiny_model: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    long_text = TEXTS[-2]
    full = Encoder(str(tiny_model), device="cpu", cache=cache).embed_texts([long_text])
    short = Encoder(str(tiny_model), max_length=16, device="cpu", cache=cache)
    truncated = short.embed_texts([long_text])

    assert short.stats.embedded == 1
    assert not np.allclose(full, truncated)
