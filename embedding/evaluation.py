"""Retrieval quality of an encoder (base or adapter) on a repository's held-out pairs.

For each language the candidate pool is EVERY function of that language in the repository (as
the LoRACode paper scores against the whole pool, not a handful of distractors). A query is
either doc text (text→code, ``docstring`` pairs only: identifier queries would test word
matching) or another version of a function (code→code: synthetic clones and history). A query's
relevant candidates are its function and any function with the same body hash. Reported: MRR,
Recall@1/5/10 and nDCG@10 (one relevant item, so nDCG is 1/log2(1 + rank) within the top 10).

Candidates are embedded as their code without doc text, the same side the adapter was trained
on; the pool vectors are computed once per encoder and reused for both tasks and calibration.
Calibration pairs (clones and random non-clones) also carry the lexical similarity of their two
codes (``embedding.lexical``), since the review's verdict applies its thresholds to the combined
score of cosine and lexical similarity, not to the cosine alone.
``rank_metrics`` is pure numpy over vectors, tested on hand-made ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.domain import CodeFunction, text_hash
from embedding.lexical import NormalizedCode
from embedding.training.pairs import TrainingPair, function_key, line_similarity
from embedding.verdict import signals_of
from embedding.verdict_fit import LabelledPair

Embed = Callable[[Sequence[str]], np.ndarray]  # texts → (N, D) L2-normalised rows
Normalized = Callable[[str], "NormalizedCode"]  # code → its normalised tokens (memoised by the caller)
Lexical = Callable[[str, str], float]  # (code a, code b) → similarity in [0, 1]
TASKS = ("text2code", "code2code")
NON_CLONE_MAX_SIMILARITY = 0.5  # line similarity at or above which a random pair is not a negative
_TASK_SOURCES = {"text2code": ("docstring",), "code2code": ("synthetic", "history")}


@dataclass(frozen=True)
class Metrics:
    mrr: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    ndcg_at_10: float
    queries: int
    pool: int

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class LanguageEvaluation:
    """Metrics per task for one language and encoder, and the scores calibration needs."""

    language: str
    metrics: dict[str, Metrics] = field(default_factory=dict)
    # (score, clone_type) of each code→code synthetic query against its own function
    clone_scores: list[tuple[float, str]] = field(default_factory=list)
    # scores of random pairs of distinct functions from the evaluated split's files
    non_clone_scores: list[float] = field(default_factory=list)
    # copies (history, synthetic) and each one's nearest non-copy neighbours, with the verdict's
    # signals, to fit a verdict on (empty when evaluated without ``normalized``)
    labelled: list[LabelledPair] = field(default_factory=list)
    # lexical similarity of the same pairs, row for row (empty when evaluated without ``lexical``)
    clone_lexical: list[float] = field(default_factory=list)
    non_clone_lexical: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {task: m.to_dict() for task, m in self.metrics.items()}

    @property
    def mean_mrr(self) -> float:
        """The gate's figure: mean MRR over the tasks that had queries."""
        values = [m.mrr for m in self.metrics.values() if m.queries]
        return float(np.mean(values)) if values else 0.0


def ranks(queries: np.ndarray, pool: np.ndarray, relevant: Sequence[Sequence[int]], *, chunk: int = 512) -> np.ndarray:
    """1-based rank of the best-scoring relevant candidate for each query.

    ``queries`` (Q, D) and ``pool`` (N, D) are L2-normalised; ``relevant[i]`` lists the pool rows
    relevant to query i (at least one). Ties count against the query (pessimistic).
    """
    out = np.empty(len(relevant), dtype=np.int64)
    for start in range(0, len(relevant), chunk):
        scores = queries[start : start + chunk] @ pool.T  # (q, N)
        for row, rel in enumerate(relevant[start : start + chunk]):
            s = scores[row]
            mask = np.zeros(s.shape[0], dtype=bool)
            mask[list(rel)] = True
            best = s[mask].max()
            out[start + row] = 1 + int(np.count_nonzero(s[~mask] >= best))
    return out


def metrics_from_ranks(rank: np.ndarray, pool_size: int) -> Metrics:
    """MRR, Recall@k and nDCG@10 for single-relevant-item ranks."""
    if rank.size == 0:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0.0, 0, pool_size)
    r = rank.astype(np.float64)
    ndcg = np.where(r <= 10, 1.0 / np.log2(r + 1.0), 0.0)
    return Metrics(
        mrr=float(np.mean(1.0 / r)),
        recall_at_1=float(np.mean(r <= 1)),
        recall_at_5=float(np.mean(r <= 5)),
        recall_at_10=float(np.mean(r <= 10)),
        ndcg_at_10=float(np.mean(ndcg)),
        queries=int(rank.size),
        pool=pool_size,
    )


def rank_metrics(queries: np.ndarray, pool: np.ndarray, relevant: Sequence[Sequence[int]]) -> Metrics:
    """Metrics of queries against a pool (pure: vectors in, figures out)."""
    return metrics_from_ranks(ranks(queries, pool, relevant), pool.shape[0])


@dataclass
class Pool:
    """The candidate pool of one language: functions, their texts and where each key and body hash sits."""

    functions: list[CodeFunction]
    rows_by_key: dict[str, int]
    rows_by_hash: dict[str, list[int]]

    @classmethod
    def of(cls, functions: Sequence[CodeFunction]) -> Pool:
        by_key: dict[str, int] = {}
        by_hash: dict[str, list[int]] = {}
        for row, fn in enumerate(functions):
            by_key.setdefault(function_key(fn), row)
            by_hash.setdefault(fn.body_hash, []).append(row)
        return cls(list(functions), by_key, by_hash)

    @property
    def texts(self) -> list[str]:
        return [fn.code for fn in self.functions]

    def relevant(self, pair: TrainingPair) -> list[int] | None:
        row = self.rows_by_key.get(pair.function_key)
        if row is None:
            return None
        return sorted({row, *self.rows_by_hash.get(self.functions[row].body_hash, [])})


def _labelled(
    pair: TrainingPair, query: np.ndarray, pool: Pool, vectors: np.ndarray, normalized: Normalized, neighbours: int
) -> list[LabelledPair]:
    """The copy ``pair`` as a positive and its query's nearest non-copy pool functions as negatives."""
    row = pool.rows_by_key.get(pair.function_key)
    if row is None:
        return []
    original = pool.functions[row]
    mine = normalized(pair.query)
    group = pair.source if pair.source == "history" else f"synthetic:{pair.clone_type or 'renamed'}"
    cosines = vectors @ query  # (N,)
    copy = signals_of(float(cosines[row]), mine, normalized(original.code), mine.name, original.qualified_name)
    out = [LabelledPair(copy, True, group, identical=pair.body_hash == original.body_hash)]
    taken = 0
    for other in np.argsort(-cosines)[: 8 * neighbours + 1]:
        candidate = pool.functions[int(other)]
        if int(other) == row or candidate.body_hash == original.body_hash:
            continue
        if line_similarity(candidate.code, original.code) >= NON_CLONE_MAX_SIMILARITY:
            continue  # a real near-copy in the repository: not a negative
        theirs = normalized(candidate.code)
        signals = signals_of(float(cosines[int(other)]), mine, theirs, mine.name, candidate.qualified_name)
        out.append(LabelledPair(signals, False, "neighbour", unit=pair.function_key + "|" + text_hash(pair.query)))
        taken += 1
        if taken >= neighbours:
            break
    return out


def evaluate_language(
    embed: Embed,
    language: str,
    pairs: Sequence[TrainingPair],
    functions: Sequence[CodeFunction],
    *,
    negative_paths: set[str] | None = None,
    negatives: int = 0,
    seed: int = 0,
    pool_vectors: np.ndarray | None = None,
    lexical: Lexical | None = None,
    normalized: Normalized | None = None,
    neighbours: int = 2,
) -> LanguageEvaluation:
    """Metrics of one encoder on ``pairs`` (one split) against every function of ``language``.

    With ``negatives`` > 0, also that many scores of random pairs of distinct functions (different
    body hashes, line similarity under ``NON_CLONE_MAX_SIMILARITY``) whose files are in
    ``negative_paths``, for threshold calibration. With ``lexical``, each calibration pair's
    lexical similarity too (``clone_lexical``, ``non_clone_lexical``). With ``normalized``, the
    verdict's labelled pairs (``labelled``): every code→code query against its function (a copy) and
    against its ``neighbours`` nearest pool functions that are not copies of it (different body
    hash, line similarity under ``NON_CLONE_MAX_SIMILARITY``): the pairs a review has to tell apart.
    """
    pool = Pool.of([fn for fn in functions if fn.language == language])
    result = LanguageEvaluation(language=language)
    if not pool.functions:
        return result
    vectors = pool_vectors if pool_vectors is not None else embed(pool.texts)  # (N, D)
    for task in TASKS:
        chosen = [
            (p, rel)
            for p in pairs
            if p.language == language and p.kind == task and p.source in _TASK_SOURCES[task]
            for rel in [pool.relevant(p)]
            if rel is not None
        ]
        if not chosen:
            result.metrics[task] = metrics_from_ranks(np.empty(0, dtype=np.int64), len(pool.functions))
            continue
        q = embed([p.query for p, _ in chosen])  # (Q, D)
        result.metrics[task] = rank_metrics(q, vectors, [rel for _, rel in chosen])
        if task == "code2code":
            for (p, _), qv in zip(chosen, q, strict=True):
                if p.source == "synthetic":
                    row = pool.rows_by_key[p.function_key]
                    result.clone_scores.append((float(qv @ vectors[row]), p.clone_type or "renamed"))
                    if lexical is not None:
                        result.clone_lexical.append(float(lexical(p.query, pool.functions[row].code)))
            if normalized is not None:
                for (p, _), qv in zip(chosen, q, strict=True):
                    result.labelled += _labelled(p, qv, pool, vectors, normalized, neighbours)
    if negatives > 0:
        rows = [i for i, fn in enumerate(pool.functions) if negative_paths is None or fn.path in negative_paths]
        rng = np.random.default_rng(seed)
        tries = 0
        while len(result.non_clone_scores) < negatives and len(rows) > 1 and tries < negatives * 20:
            tries += 1
            a, b = rng.choice(rows, size=2, replace=False)
            fa, fb = pool.functions[a], pool.functions[b]
            # Distinct functions that are near-copies anyway (generated accessors, boilerplate) are
            # not "non-clones": counting them would make precision unreachable at any threshold.
            if fa.body_hash == fb.body_hash or line_similarity(fa.code, fb.code) >= NON_CLONE_MAX_SIMILARITY:
                continue
            result.non_clone_scores.append(float(vectors[a] @ vectors[b]))
            if lexical is not None:
                result.non_clone_lexical.append(float(lexical(fa.code, fb.code)))
    return result
