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
    result = evaluate_language(KeywordEmbed(), "python", pairs, fns)
    t2c, c2c = result.metrics["text2code"], result.metrics["code2code"]
    assert (t2c.queries, t2c.pool, t2c.mrr) == (1, 3, 1.0)  # identifier pairs are not evaluated
    assert (c2c.queries, c2c.mrr) == (1, 1.0)
    assert result.mean_mrr == 1.0
    # Without a normaliser no calibration pairs are made (and never random ones).
    assert result.labelled == [] and result.new_functions == []


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


# --- paired bootstrap --------------------------------------------------------------------------


def test_paired_bootstrap_of_identical_models_is_zero_and_of_a_constant_gain_is_that_gain() -> None:
    from embedding.evaluation import paired_bootstrap

    rng = np.random.default_rng(1)
    base = 1.0 / rng.integers(1, 20, size=200)
    same = paired_bootstrap(base, base, resamples=500, seed=0)
    assert (same.delta, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    # Pairing: a gain of exactly 0.05 on every query has no spread, however noisy the queries are.
    shifted = paired_bootstrap(base, base + 0.05, resamples=500, seed=0)
    assert shifted.delta == pytest.approx(0.05)
    assert shifted.ci_low == pytest.approx(0.05) and shifted.ci_high == pytest.approx(0.05)
    assert shifted.relative == pytest.approx(0.05 / base.mean())
    assert shifted.clears(0.04) and not shifted.clears(0.06)


def test_paired_bootstrap_interval_matches_the_normal_approximation_and_narrows_with_queries() -> None:
    from embedding.evaluation import paired_bootstrap

    rng = np.random.default_rng(7)
    widths = {}
    for n in (120, 1200):
        base = rng.uniform(0, 1, size=n)
        diff = rng.normal(0.03, 0.2, size=n)
        result = paired_bootstrap(base, base + diff, resamples=2000, seed=3)
        assert result.ci_low < result.delta < result.ci_high
        half = (result.ci_high - result.ci_low) / 2
        expected = 1.96 * diff.std(ddof=1) / np.sqrt(n)
        assert half == pytest.approx(expected, rel=0.15)
        widths[n] = half
    assert 2.3 < widths[120] / widths[1200] < 4.3  # ~ sqrt(10)
    # 120 noisy queries: the interval spans no gain at all; the gate would not promote on it.
    assert not paired_bootstrap(base[:120], (base + diff)[:120], seed=3).clears(0.01)


def test_paired_bootstrap_is_seeded_and_checks_its_inputs() -> None:
    from embedding.evaluation import paired_bootstrap

    base, tuned = [0.1, 0.5, 1.0, 0.2], [0.2, 0.5, 1.0, 1.0]
    assert paired_bootstrap(base, tuned, seed=4) == paired_bootstrap(base, tuned, seed=4)
    with pytest.raises(ValueError, match="one base and one adapter score per query"):
        paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap(base, tuned, resamples=0)
    empty = paired_bootstrap([], [])
    assert empty.queries == 0 and not empty.clears(0.0)


def test_grouped_bootstrap_estimates_the_weighted_mean_of_group_means() -> None:
    from embedding.evaluation import paired_bootstrap

    # Group a: 2 queries, group b: 4; equal weights → the mean of the two group means.
    base = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    tuned = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    groups = ["a", "a", "b", "b", "b", "b"]
    result = paired_bootstrap(base, tuned, groups=groups, resamples=300, seed=0)
    assert (result.base, result.adapter, result.delta) == (0.5, 0.75, 0.25)
    weighted = paired_bootstrap(base, tuned, groups=groups, group_weights={"a": 3.0, "b": 1.0}, seed=0)
    assert weighted.adapter == pytest.approx(0.75 * 1.0 + 0.25 * 0.5)


def test_compare_reproduces_the_gates_mean_mrr_from_per_query_ranks() -> None:
    from embedding.evaluation import compare, compare_tasks

    fns = [
        make_function("def a(x):\n    return sort(x)\n", path="a.py"),
        make_function("def b(p):\n    return read(file(p))\n", path="b.py"),
        make_function("def c(s):\n    return parse(json(s))\n", path="c.py"),
    ]

    def pair(kind: str, source: str, fn_row: int, query: str) -> TrainingPair:
        fn = fns[fn_row]
        return TrainingPair(kind, source, "python", fn.path, function_key(fn), query, fn.code, fn.body_hash)

    pairs = [
        pair("text2code", "docstring", 1, "read a file"),
        pair("text2code", "docstring", 0, "json parse"),  # ranks c first: reciprocal rank < 1
        pair("code2code", "synthetic", 2, "parse(json(t))"),
    ]

    class Blurred(KeywordEmbed):
        def __call__(self, texts: Sequence[str]) -> np.ndarray:
            return np.ones((len(texts), len(self.vocab)), dtype=np.float32) / np.sqrt(len(self.vocab))

    sharp = {"python": evaluate_language(KeywordEmbed(), "python", pairs, fns)}
    blurred = {"python": evaluate_language(Blurred(), "python", pairs, fns)}
    assert set(sharp["python"].reciprocal_ranks["text2code"]) == set(blurred["python"].reciprocal_ranks["text2code"])
    result = compare(blurred, sharp, resamples=200)
    assert result.adapter == pytest.approx(sharp["python"].mean_mrr)
    assert result.base == pytest.approx(blurred["python"].mean_mrr)
    assert result.queries == 3
    per_task = compare_tasks(blurred, sharp, resamples=200)
    assert per_task["python"]["text2code"].adapter == pytest.approx(sharp["python"].metrics["text2code"].mrr)
    assert per_task["python"]["code2code"].queries == 1


def test_new_functions_meet_their_nearest_non_copy_neighbours_not_random_ones() -> None:
    """Calibration's negatives are what a review of a genuinely new function compares it with."""
    from embedding.lexical import normalize

    fns = [
        make_function("def a(x):\n    y = sort(x)\n    return sum(y)\n", path="a.py"),
        make_function("def b(x):\n    y = sort(x)\n    return sum(y)\n", path="b.py"),  # a copy of a
        make_function("def c(s):\n    t = sort(parse(s))\n    return add(t, 1)\n", path="c.py"),
        make_function("def d(p):\n    f = read(file(p))\n    return json(f)\n", path="d.py"),
        make_function("def e(p):\n    g = read(file(p))\n    h = parse(json(g))\n    return g, h\n", path="e.py"),
    ]
    result = evaluate_language(
        KeywordEmbed(), "python", [], fns, split_paths={"a.py", "d.py"},
        normalized=lambda code: normalize("python", code), neighbours=1, new_functions=True,
    )  # fmt: skip
    by_unit = {p.unit: p for p in result.new_functions}
    assert set(by_unit) == {function_key(fns[0]), function_key(fns[3])}
    assert all(not p.positive and p.group == "new_function" for p in result.new_functions)
    vectors = KeywordEmbed()([fn.code for fn in fns])
    # a's nearest is b, a copy (same body): skipped; c is the nearest non-copy.
    assert by_unit[function_key(fns[0])].signals.cosine == pytest.approx(float(vectors[0] @ vectors[2]), abs=1e-6)
    assert by_unit[function_key(fns[3])].signals.cosine == pytest.approx(float(vectors[3] @ vectors[4]), abs=1e-6)


def test_sized_splits_grow_held_out_splits_by_file_to_the_wanted_queries_and_no_further() -> None:
    from embedding.evaluation import sized_splits, split_queries

    def doc_pair(i: int) -> TrainingPair:
        return TrainingPair(
            "text2code", "docstring", "python", f"f{i}.py", f"f{i}.py::f", f"query {i}", "code", f"h{i}"
        )

    pairs = [doc_pair(i) for i in range(100) for _ in range(2)]  # 100 files, 2 documented functions each
    sized = sized_splits(pairs, seed=0, validation=0.1, test=0.1, min_queries=30, max_fraction=0.25)
    counts = {
        split: split_queries([p for p in sized if p.split == split])["text2code"] for split in ("test", "validation")
    }
    assert counts == {"test": 30, "validation": 30}  # 15 files each instead of 10
    for path in {p.path for p in sized}:
        assert len({p.split for p in sized if p.path == path}) == 1  # still by file
    # Not enough documented functions: each split stops at 25% of the files.
    capped = sized_splits(pairs, seed=0, validation=0.1, test=0.1, min_queries=1000, max_fraction=0.25)
    assert sum(1 for p in capped if p.split == "test") == 50 and sum(1 for p in capped if p.split == "train") == 100
    # Enough already: the configured shares stand.
    plain = sized_splits(pairs, seed=0, validation=0.1, test=0.1, min_queries=1, max_fraction=0.25)
    assert sum(1 for p in plain if p.split == "test") == 20
    # The test split's files are the lowest-ranked; growing it keeps them (a superset).
    assert {p.path for p in plain if p.split == "test"} <= {p.path for p in sized if p.split == "test"}


def test_a_renamed_clone_is_a_copy_to_learn_from_not_an_identical_body() -> None:
    """The defect: every copy was marked identical (the pair's body hash is its original's), so the
    verdict refit and the calibration dropped all of them and never had a positive."""
    from embedding.extract.tokens import body_hash
    from embedding.lexical import normalize

    codes = [
        "def a(x):\n    y = sort(x)\n    return sum(y)\n",
        "def c(s):\n    t = sort(parse(s))\n    return add(t, 1)\n",
    ]
    fns = [make_function(code, path=f"{i}.py", body_hash=body_hash("python", code)) for i, code in enumerate(codes)]
    renamed = "def z(v):\n    w = sort(v)\n    return sum(w)\n"
    same = "def a(x):\n    # a comment\n    y = sort(x)\n\n    return sum(y)\n"
    pairs = [
        TrainingPair("code2code", "synthetic", "python", "0.py", function_key(fns[0]), query, fns[0].code,
                     fns[0].body_hash, clone_type="renamed")
        for query in (renamed, same)
    ]  # fmt: skip
    result = evaluate_language(KeywordEmbed(), "python", pairs, fns, normalized=lambda c: normalize("python", c))
    copies = [p for p in result.labelled if p.positive]
    assert [p.identical for p in copies] == [False, True]
