"""EmbeddingCache: exact round trips, key separation, persistence and several writer processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np

from core.domain import text_hash
from embedding.cache import EmbeddingCache

BASE = "sentence-transformers/all-MiniLM-L6-v2#256"


def _vectors(seed: int, count: int, dim: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {text_hash(f"text-{seed}-{i}"): rng.standard_normal(dim).astype(np.float32) for i in range(count)}


def test_round_trip_is_exact_and_misses_are_absent(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    items = _vectors(1, 5)
    cache.put_many(BASE, "minilm-l6:base", items)

    found = cache.get_many(BASE, "minilm-l6:base", [*items, text_hash("never stored")])

    assert set(found) == set(items)
    for key, vector in items.items():
        assert found[key].dtype == np.float32
        assert np.array_equal(found[key], vector)
    found[next(iter(items))][0] = 42.0  # returned arrays are writable copies


def test_base_and_adapter_version_separate_entries(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    items = _vectors(2, 3)
    cache.put_many(BASE, "minilm-l6:python@aaaa0000", items)

    assert cache.get_many(BASE, "minilm-l6:python@bbbb1111", list(items)) == {}
    assert cache.get_many("other-model#256", "minilm-l6:python@aaaa0000", list(items)) == {}
    assert cache.count(BASE, "minilm-l6:python@aaaa0000") == 3


def test_put_replaces_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    key = text_hash("f")
    EmbeddingCache(path).put_many(BASE, "v", {key: np.zeros(4, np.float32)})
    EmbeddingCache(path).put_many(BASE, "v", {key: np.ones(4, np.float32)})

    reopened = EmbeddingCache(path)
    assert np.array_equal(reopened.get_many(BASE, "v", [key])[key], np.ones(4, np.float32))
    assert reopened.count() == 1


def test_large_lookups_are_chunked_below_sqlite_parameter_limits(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    items = _vectors(3, 1300, dim=4)
    cache.put_many(BASE, "v", items)

    assert len(cache.get_many(BASE, "v", list(items))) == 1300


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _write_from_child(path: str, seed: int) -> None:
    cache = EmbeddingCache(Path(path), timeout=60)
    items = _vectors(seed, 200)
    for start in range(0, 200, 20):  # many small transactions, to interleave with the others
        keys = list(items)[start : start + 20]
        cache.put_many(BASE, "v", {key: items[key] for key in keys})
        cache.put_many(BASE, "v", _vectors(99, 10))  # every process also writes the same shared rows


def test_several_processes_write_at_once_without_losing_rows(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    cache.put_many(BASE, "v", _vectors(0, 10))  # the parent's connection exists before the fork
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_write_from_child, args=(str(cache.path), seed)) for seed in (1, 2, 3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)

    assert [child.exitcode for child in children] == [0, 0, 0]
    assert cache.count(BASE, "v") == 10 + 3 * 200 + 10
    expected = _vectors(2, 200)
    found = cache.get_many(BASE, "v", list(expected))
    assert all(np.array_equal(found[key], vector) for key, vector in expected.items())
