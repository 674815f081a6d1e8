"""Retrieval metrics on hand-made vectors, and evaluation against a language's whole pool."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from embedding.evaluation import evaluate_language, metrics_from_ranks, rank_metrics, ranks
from embedding.training.pairs import TrainingPair, function_key
from tests.factories import make_function


def test_ranks_and_metrics_by_hand() -> None:
    pool = np.eye(4, dtype=np.float32)  # four orthogonal candidates
    queries = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 0.1, 0.99]], dtype=np.float32)
    relevant = [[0], [0], [2]]  # ranks 1, 2, 2
    assert ranks(queries, pool, relevant).tolist() == [1, 2, 2]
    m = rank_metrics(queries, pool, relevant)
    assert m.mrr == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m.recall_at_1 == pytest.approx(1 / 3)
    assert m.recall_at_5 == 1.0
    assert m.ndcg_at_10 == pytest.approx((1 + 2 / np.log2(3)) / 3)
    assert (m.queries, m.pool) == (3, 4)


def test_any_relevant_candidate_counts_and_ties_count_against() -> None:
    pool = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    query = np.array([[1, 0]], dtype=np.float32)
    assert ranks(query, pool, [[1]]).tolist() == [2]  # tie with a non-relevant row
    assert ranks(query, pool, [[0, 1]]).tolist() == [1]


def test_beyond_ten_has_no_ndcg_and_empty_is_zero() -> None:
    m = metrics_from_ranks(np.array([11]), 20)
    assert (m.ndcg_at_10, m.recall_at_10, m.mrr) == (0.0, 0.0, pytest.approx(1 / 11))
    assert metrics_from_ranks(np.empty(0, dtype=np.int64), 5).queries == 0


class KeywordEmbed:
    """Embeds a text as counts of a fixed vocabulary (normalised): a transparent fake encoder."""

    vocab = ("sort", "read", "file", "add", "sum", "parse", "json")

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.array([[t.count(w) + 0.01 for w in self.vocab] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_evaluate_language_scores_both_tasks_against_the_pool() -> None:
    fns = [
        make_function("def a(x):\n    return sort(x)\n", path="a.py"),
        make_function("def b(p):\n    return read(file(p))\n", path="b.py"),
        make_function("def c(s):\n    return parse(json(s))\n", path="c.py"),
        make_function("func d() {}\n", language="go", path="d.go"),
    ]
    pairs = [
        TrainingPair(
            "text2code",
            "docstring",
            "python",
            "b.py",
            function_key(fns[1]),
            "read a file",
            fns[1].code,
            fns[1].body_hash,
        ),
        TrainingPair(
            "text2code",
            "identifiers",
            "python",
            "a.py",
            function_key(fns[0]),
            "json json",
            fns[0].code,
            fns[0].body_hash,
        ),
        TrainingPair(
            "code2code",
            "synthetic",
            "python",
            "c.py",
            function_key(fns[2]),
            "parse(json(t))",
            fns[2].code,
            fns[2].body_hash,
            clone_type="renamed",
        ),
    ]
    result = evaluate_language(KeywordEmbed(), "python", pairs, fns, negatives=3, seed=0)
    t2c, c2c = result.metrics["text2code"], result.metrics["code2code"]
    assert (t2c.queries, t2c.pool, t2c.mrr) == (1, 3, 1.0)  # identifier pairs are not evaluated
    assert (c2c.queries, c2c.mrr) == (1, 1.0)
    assert len(result.clone_scores) == 1 and result.clone_scores[0][1] == "renamed"
    assert len(result.non_clone_scores) == 3
    assert result.mean_mrr == 1.0


def test_the_verdicts_labelled_pairs_are_copies_and_their_nearest_non_copy_neighbours() -> None:
    from embedding.lexical import normalize

    fns = [
        make_function("def a(x):\n    y = sort(x)\n    return sum(y)\n", path="a.py"),
        make_function("def b(x):\n    y = sort(x)\n    return sum(y)\n", path="b.py"),  # a real copy of a
        make_function("def c(s):\n    t = sort(parse(s))\n    return add(t, 1)\n", path="c.py"),
        make_function("def d(p):\n    f = read(file(p))\n    return json(f)\n", path="d.py"),
    ]
    clone = "def z(v):\n    w = sort(v)\n    w.append(1)\n    return sum(w)\n"
    pairs = [
        TrainingPair("code2code", "synthetic", "python", "a.py", function_key(fns[0]), clone, fns[0].code,
                     fns[0].body_hash, clone_type="edited"),
    ]  # fmt: skip
    result = evaluate_language(
        KeywordEmbed(), "python", pairs, fns, normalized=lambda code: normalize("python", code), neighbours=2
    )
    positives = [p for p in result.labelled if p.positive]
    negatives = [p for p in result.labelled if not p.positive]
    assert [p.group for p in positives] == ["synthetic:edited"]
    assert positives[0].signals.lexical > negatives[0].signals.lexical
    # b is a copy of a in the repository (same body): never a negative; c is the nearest non-copy.
    assert len(negatives) == 2 and all(p.group == "neighbour" for p in negatives)
    assert negatives[0].signals.cosine >= negatives[1].signals.cosine
    assert all(p.signals.lexical < 1.0 for p in negatives)
