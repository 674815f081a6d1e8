"""Retrieval quality of an encoder (base or adapter) on a repository's held-out pairs.

For each language the candidate pool is EVERY function of that language in the repository (as
the LoRACode paper scores against the whole pool, not a handful of distractors). A query is
either doc text (text→code, ``docstring`` pairs only: identifier queries would test word
matching) or another version of a function (code→code: synthetic clones and history). A query's
relevant candidates are its function and any function with the same body hash. Reported: MRR,
Recall@1/5/10 and nDCG@10 (one relevant item, so nDCG is 1/log2(1 + rank) within the top 10).

Candidates are embedded as their code without doc text, the same side the adapter was trained
on; the pool vectors are computed once per encoder and reused for both tasks and calibration.

Calibration uses the pairs a review actually has to tell apart, never random pairs (random
non-clones are far easier than the nearest neighbour a review compares against, and thresholds
calibrated on them loosen reviews): ``labelled`` holds every code→code query (a copy of its
function) and the query's nearest pool functions that are not copies of it, with the verdict's
signals; ``new_functions`` holds, for every function of the split's files, its nearest non-copy
neighbours in the repository: what a review of that function, were it genuinely new, would
compare it with. A model's false alarms on genuinely new functions are counted on those.
``rank_metrics`` is pure numpy over vectors, tested on hand-made ones.

Every evaluation keeps each query's reciprocal rank (``LanguageEvaluation.reciprocal_ranks``, keyed
by the pair's identity), so that two models scored on the same split can be compared query by
query: ``paired_bootstrap`` resamples the queries (the same resample for both models) and gives
the MRR delta with a 95% interval, and ``compare`` does so for the gate's figure (the mean over
languages of the mean over tasks). 120 queries cannot tell +17% from +6%; the interval says so.
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
NON_CLONE_MAX_SIMILARITY = 0.5  # line similarity at or above which a neighbour is a near-copy, not a negative
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_SPLIT_QUERIES = 300  # text→code queries a held-out split should have for its interval to mean much
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
    # copies (history, synthetic) and each one's nearest non-copy neighbours, with the verdict's
    # signals: what thresholds and the verdict are calibrated on (empty without ``normalized``)
    labelled: list[LabelledPair] = field(default_factory=list)
    # every function of the split's files against its nearest non-copy neighbours (negatives, one
    # unit per function): where false alarms on genuinely new functions are counted
    new_functions: list[LabelledPair] = field(default_factory=list)

    # each task's queries: identity (``query_id``) → reciprocal rank of its relevant candidate
    reciprocal_ranks: dict[str, dict[str, float]] = field(default_factory=dict)

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


def _neighbours(cosines: np.ndarray, pool: Pool, row: int, code: str, neighbours: int) -> list[int]:
    """The ``neighbours`` best-scoring pool rows that are not copies of row ``row`` (itself, the same
    body hash, or line similarity to ``code`` at or above ``NON_CLONE_MAX_SIMILARITY``)."""
    original = pool.functions[row]
    window = min(cosines.shape[0], 8 * neighbours + 1)
    top = np.argpartition(-cosines, window - 1)[:window] if window < cosines.shape[0] else np.arange(cosines.shape[0])
    out: list[int] = []
    for other in top[np.argsort(-cosines[top], kind="stable")]:
        candidate = pool.functions[int(other)]
        if int(other) == row or candidate.body_hash == original.body_hash:
            continue
        if line_similarity(candidate.code, code) >= NON_CLONE_MAX_SIMILARITY:
            continue  # a real near-copy in the repository: not a negative
        out.append(int(other))
        if len(out) >= neighbours:
            break
    return out


def _same_body(language: str, code: str, digest: str) -> bool:
    """Whether ``code`` has the body hash ``digest`` (code that does not parse: no)."""
    from embedding.extract.tokens import body_hash

    try:
        return body_hash(language, code) == digest
    except Exception:  # noqa: BLE001 - a snippet tree-sitter cannot take is simply not identical
        return False


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
    # ``pair.body_hash`` is the original function's; whether the copy is identical (same body once
    # comments and layout are dropped) is a question about the copy's own code.
    out = [LabelledPair(copy, True, group, identical=_same_body(pair.language, pair.query, original.body_hash))]
    unit = pair.function_key + "|" + text_hash(pair.query)
    for other in _neighbours(cosines, pool, row, original.code, neighbours):
        candidate = pool.functions[other]
        signals = signals_of(
            float(cosines[other]), mine, normalized(candidate.code), mine.name, candidate.qualified_name
        )
        out.append(LabelledPair(signals, False, "neighbour", unit=unit))
    return out


def new_function_pairs(
    pool: Pool, vectors: np.ndarray, rows: Sequence[int], normalized: Normalized, neighbours: int, *, chunk: int = 256
) -> list[LabelledPair]:
    """Each function of ``rows`` against its ``neighbours`` nearest non-copy pool functions: the
    candidates a review of it, were it genuinely new, would weigh (negatives, one unit per function)."""
    out: list[LabelledPair] = []
    for start in range(0, len(rows), chunk):
        block = list(rows[start : start + chunk])
        scores = vectors[block] @ vectors.T  # (b, N)
        for row, cosines in zip(block, scores, strict=True):
            fn = pool.functions[row]
            mine = normalized(fn.code)
            unit = function_key(fn)
            for other in _neighbours(cosines, pool, row, fn.code, neighbours):
                candidate = pool.functions[other]
                signals = signals_of(
                    float(cosines[other]), mine, normalized(candidate.code), fn.qualified_name, candidate.qualified_name
                )
                out.append(LabelledPair(signals, False, "new_function", unit=unit))
    return out


def evaluate_language(
    embed: Embed,
    language: str,
    pairs: Sequence[TrainingPair],
    functions: Sequence[CodeFunction],
    *,
    split_paths: set[str] | None = None,
    pool_vectors: np.ndarray | None = None,
    normalized: Normalized | None = None,
    neighbours: int = 2,
    new_functions: bool = False,
) -> LanguageEvaluation:
    """Metrics of one encoder on ``pairs`` (one split) against every function of ``language``.

    With ``normalized`` (code → its normalised tokens), also the calibration pairs: ``labelled``,
    every code→code query against its function (a copy) and against its ``neighbours`` nearest pool
    functions that are not copies of it (different body hash, line similarity under
    ``NON_CLONE_MAX_SIMILARITY``); and with ``new_functions`` too, every function whose file is in
    ``split_paths`` (default: the files of ``pairs``) against its ``neighbours`` nearest non-copies.
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
        rank = ranks(q, vectors, [rel for _, rel in chosen])
        result.metrics[task] = metrics_from_ranks(rank, len(pool.functions))
        result.reciprocal_ranks[task] = {query_id(p): 1.0 / float(r) for (p, _), r in zip(chosen, rank, strict=True)}
        if task == "code2code" and normalized is not None:
            for (p, _), qv in zip(chosen, q, strict=True):
                result.labelled += _labelled(p, qv, pool, vectors, normalized, neighbours)
    if normalized is not None and new_functions:
        paths = split_paths if split_paths is not None else {p.path for p in pairs if p.language == language}
        rows = [i for i, fn in enumerate(pool.functions) if fn.path in paths]
        result.new_functions = new_function_pairs(pool, vectors, rows, normalized, neighbours)
    return result


def split_queries(pairs: Sequence[TrainingPair]) -> dict[str, int]:
    """How many queries of each task a split's pairs give (what the metrics are measured on)."""
    return {task: sum(1 for p in pairs if p.kind == task and p.source in _TASK_SOURCES[task]) for task in TASKS}


def query_id(pair: TrainingPair) -> str:
    """A query's identity across models: its function, kind and the hash of its query text."""
    return f"{pair.function_key}|{pair.kind}|{text_hash(pair.query)}"


@dataclass(frozen=True)
class PairedBootstrap:
    """The MRR of two models on the same queries, their difference and its bootstrap interval."""

    base: float
    adapter: float
    delta: float  # adapter - base
    relative: float | None  # delta / base (None when base is 0)
    ci_low: float  # of delta, at ``confidence``
    ci_high: float
    relative_ci_low: float | None
    relative_ci_high: float | None
    queries: int
    resamples: int
    confidence: float = CONFIDENCE

    def clears(self, margin: float) -> bool:
        """True when even the interval's lower end beats the margin (a gain, not noise)."""
        return self.queries > 0 and self.ci_low >= margin

    def describe(self) -> str:
        """'MRR 0.4390 → 0.5130, Δ +0.0740 (+16.9%), 95% CI [+0.0310, +0.1180], 120 queries'."""
        relative = f" ({100 * self.relative:+.1f}%)" if self.relative is not None else ""
        return (
            f"MRR {self.base:.4f} → {self.adapter:.4f}, Δ {self.delta:+.4f}{relative}, "
            f"{round(100 * self.confidence)}% CI [{self.ci_low:+.4f}, {self.ci_high:+.4f}], {self.queries} queries"
        )

    def to_dict(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return round(value, 4) if value is not None else None

        return {
            "base_mrr": r(self.base),
            "adapter_mrr": r(self.adapter),
            "delta": r(self.delta),
            "relative": r(self.relative),
            "ci_low": r(self.ci_low),
            "ci_high": r(self.ci_high),
            "relative_ci_low": r(self.relative_ci_low),
            "relative_ci_high": r(self.relative_ci_high),
            "queries": self.queries,
            "resamples": self.resamples,
            "confidence": self.confidence,
        }


def paired_bootstrap(
    base_scores: Sequence[float] | np.ndarray,
    adapter_scores: Sequence[float] | np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    groups: Sequence[Any] | None = None,
    group_weights: dict[Any, float] | None = None,
    confidence: float = CONFIDENCE,
) -> PairedBootstrap:
    """Paired bootstrap of the mean of per-query scores (reciprocal ranks) of two models.

    ``base_scores[i]`` and ``adapter_scores[i]`` belong to the same query. Each resample draws the
    queries with replacement, the same draw for both models, so what the two share (hard and easy
    queries) cancels out of the delta. Percentile interval at ``confidence``.

    With ``groups`` (one label per query), the statistic is the weighted mean of the group means
    (``group_weights``, equal when omitted, normalised) and each group is resampled within itself:
    the gate's mean over languages and tasks, with each stratum keeping its size.
    """
    base = np.asarray(base_scores, dtype=np.float64)
    tuned = np.asarray(adapter_scores, dtype=np.float64)
    if base.shape != tuned.shape or base.ndim != 1:
        raise ValueError(
            f"paired scores need one base and one adapter score per query, got {base.shape} and {tuned.shape}"
        )
    if resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    n = base.size
    if n == 0:
        return PairedBootstrap(0.0, 0.0, 0.0, None, 0.0, 0.0, None, None, 0, resamples, confidence)
    labels = list(groups) if groups is not None else [None] * n
    if len(labels) != n:
        raise ValueError(f"groups needs one label per query ({n}), got {len(labels)}")
    strata: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        strata.setdefault(label, []).append(i)
    names = list(strata)
    raw = np.array([(group_weights or {}).get(g, 1.0) for g in names], dtype=np.float64)
    if np.any(raw < 0) or raw.sum() <= 0:
        raise ValueError("group weights must be non-negative and not all zero")
    weights = raw / raw.sum()

    rng = np.random.default_rng(seed)
    boot_base = np.zeros(resamples)
    boot_tuned = np.zeros(resamples)
    point_base = point_tuned = 0.0
    for weight, name in zip(weights, names, strict=True):
        idx = np.asarray(strata[name], dtype=np.int64)
        b, a = base[idx], tuned[idx]
        point_base += weight * float(b.mean())
        point_tuned += weight * float(a.mean())
        size = idx.size
        step = max(1, 2_000_000 // size)  # resamples per chunk: bounded memory for large splits
        for start in range(0, resamples, step):
            stop = min(resamples, start + step)
            draw = rng.integers(0, size, size=(stop - start, size))
            boot_base[start:stop] += weight * b[draw].mean(axis=1)
            boot_tuned[start:stop] += weight * a[draw].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    deltas = boot_tuned - boot_base
    low, high = (float(x) for x in np.percentile(deltas, [tail, 100 - tail]))
    delta = point_tuned - point_base
    relative = rel_low = rel_high = None
    if point_base > 0:
        relative = delta / point_base
        safe = np.where(boot_base > 0, boot_base, np.nan)
        ratios = deltas / safe
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            rel_low, rel_high = (float(x) for x in np.percentile(ratios, [tail, 100 - tail]))
    return PairedBootstrap(
        base=point_base,
        adapter=point_tuned,
        delta=delta,
        relative=relative,
        ci_low=low,
        ci_high=high,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        queries=n,
        resamples=resamples,
        confidence=confidence,
    )


def paired_ranks(
    base: dict[str, LanguageEvaluation], other: dict[str, LanguageEvaluation], *, tasks: Sequence[str] = TASKS
) -> tuple[list[float], list[float], list[tuple[str, str]], dict[tuple[str, str], float]]:
    """Reciprocal ranks of the queries both evaluations scored, row for row, with their
    (language, task) group and the weight that makes the weighted mean of group means the gate's
    figure (``AdapterOutcome.mean_mrr``: mean over languages of the mean over their tasks)."""
    base_rr: list[float] = []
    other_rr: list[float] = []
    labels: list[tuple[str, str]] = []
    per_language: dict[str, list[str]] = {}
    for language in sorted(set(base) & set(other)):
        for task in tasks:
            mine = base[language].reciprocal_ranks.get(task, {})
            theirs = other[language].reciprocal_ranks.get(task, {})
            shared = sorted(set(mine) & set(theirs))
            if not shared:
                continue
            per_language.setdefault(language, []).append(task)
            base_rr += [mine[q] for q in shared]
            other_rr += [theirs[q] for q in shared]
            labels += [(language, task)] * len(shared)
    weights = {
        (language, task): 1.0 / (len(per_language) * len(tasks_of))
        for language, tasks_of in per_language.items()
        for task in tasks_of
    }
    return base_rr, other_rr, labels, weights


def compare(
    base: dict[str, LanguageEvaluation],
    other: dict[str, LanguageEvaluation],
    *,
    tasks: Sequence[str] = TASKS,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> PairedBootstrap:
    """Paired bootstrap of the gate's figure (mean over languages of the mean over ``tasks``) of
    ``other`` against ``base`` (both: language → evaluation on the same split)."""
    b, o, labels, weights = paired_ranks(base, other, tasks=tasks)
    return paired_bootstrap(b, o, resamples=resamples, seed=seed, groups=labels, group_weights=weights)


def compare_tasks(
    base: dict[str, LanguageEvaluation],
    other: dict[str, LanguageEvaluation],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, PairedBootstrap]]:
    """language → task → paired bootstrap of that task's MRR (``other`` against ``base``)."""
    out: dict[str, dict[str, PairedBootstrap]] = {}
    for language in sorted(set(base) & set(other)):
        for task in TASKS:
            b, o, _, _ = paired_ranks({language: base[language]}, {language: other[language]}, tasks=(task,))
            if b:
                out.setdefault(language, {})[task] = paired_bootstrap(b, o, resamples=resamples, seed=seed)
    return out


def sized_splits(
    pairs: Sequence[TrainingPair],
    *,
    seed: int,
    validation: float,
    test: float,
    min_queries: int = MIN_SPLIT_QUERIES,
    max_fraction: float = 0.25,
) -> list[TrainingPair]:
    """Pairs re-tagged so that, per language, the test and the validation split each hold at least
    ``min_queries`` text→code queries where the repository allows it.

    The split stays by file and keeps its order: files are ranked by the same seeded hash as
    ``embedding.training.pairs.split_for_path`` (the test split takes the lowest, validation the
    next), and a split's share of a language's files grows from its configured fraction until it
    holds ``min_queries`` text→code queries, at most to ``max_fraction`` of the files (the rest
    stays for training). A repository with fewer documented functions keeps what it has; the
    report then says how few (``split_queries``)."""
    from dataclasses import replace

    from embedding.training.pairs import stable_int

    by_language: dict[str, dict[str, int]] = {}
    for p in pairs:
        files = by_language.setdefault(p.language, {})
        files[p.path] = files.get(p.path, 0) + (1 if p.kind == "text2code" and p.source == "docstring" else 0)
    split_of: dict[tuple[str, str], str] = {}
    for language, files in by_language.items():
        ranked = sorted(files, key=lambda path: stable_int(path, seed))
        n = len(ranked)
        start = 0
        for name, fraction in (("test", test), ("validation", validation)):
            least = max(1, round(fraction * n)) if fraction > 0 else 0
            most = max(least, int(np.floor(max_fraction * n))) if fraction > 0 else 0
            taken, queries = 0, 0
            while start + taken < n and (taken < least or (queries < min_queries and taken < most)):
                queries += files[ranked[start + taken]]
                taken += 1
            for path in ranked[start : start + taken]:
                split_of[(language, path)] = name
            start += taken
        for path in ranked[start:]:
            split_of[(language, path)] = "train"
    return [replace(p, split=split_of[(p.language, p.path)]) for p in pairs]  # type: ignore[arg-type]
