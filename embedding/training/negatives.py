"""Hard negatives mined as nearest neighbours: the functions a review would confuse with each one.

A function's same-file siblings are easy negatives as often as hard ones. The candidates that
teach are the functions the current model puts nearest to it, minus the ones that really are
copies of it: the same function, the same body hash, or lexically near-identical code (the
identifier-normalised token similarity of ``embedding.lexical`` at or above
``MAX_LEXICAL_SIMILARITY``, or line similarity at or above the evaluation's non-clone bound).

Memory stays bounded in repository size: the candidates' vectors are the only (N, D) array,
the scores are taken in blocks of ``block`` rows, and what is kept is ``k`` row numbers per
function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.domain import CodeFunction
from embedding.lexical import NEAR_COPY_SIMILARITY
from embedding.training.pairs import TrainingPair, function_key, line_similarity, stable_int

log = logging.getLogger(__name__)

# Lexical similarity (Dice over normalised token 3-grams) at which a neighbour counts as a copy.
MAX_LEXICAL_SIMILARITY = NEAR_COPY_SIMILARITY
_WINDOW = 4  # candidates looked at per neighbour kept, for the ones excluded as copies
_EMBED_BLOCK = 1024  # texts per call of ``embed``


@dataclass(frozen=True)
class Candidate:
    """A possible hard negative: its key and body hash (to keep it off its own batch) and code."""

    key: str
    body_hash: str
    code: str


@dataclass
class NeighbourNegatives:
    """Up to ``k`` hard negatives per function key, as rows of ``candidates``."""

    candidates: list[Candidate]
    neighbours: dict[str, list[int]]
    excluded_copies: int = 0  # neighbours left out as copies (body hash or lexical)

    def of(self, key: str) -> list[Candidate]:
        return [self.candidates[row] for row in self.neighbours.get(key, ())]


def _is_copy(language: str, a: str, b: str, memo: dict[str, object]) -> bool:
    from embedding.evaluation import NON_CLONE_MAX_SIMILARITY
    from embedding.lexical import normalize, similarity

    def normal(code: str) -> object:
        if code not in memo:
            memo[code] = normalize(language, code)
        return memo[code]

    if similarity(normal(a), normal(b)) >= MAX_LEXICAL_SIMILARITY:  # type: ignore[arg-type]
        return True
    return line_similarity(a, b) >= NON_CLONE_MAX_SIMILARITY


def _capped_pool(pool: list[CodeFunction], anchors: set[str], cap: int, seed: int) -> list[CodeFunction]:
    """At most ``cap`` functions of ``pool`` in their order: anchors (the pairs' functions) before
    the rest, each part a seeded sample."""
    keys = [function_key(fn) for fn in pool]
    ranked = sorted(range(len(pool)), key=lambda i: (keys[i] not in anchors, stable_int(keys[i], seed)))
    return [pool[i] for i in sorted(ranked[:cap])]


def mine_neighbours(
    embed: Callable[[Sequence[str]], np.ndarray],
    pairs: Sequence[TrainingPair],
    functions: Sequence[CodeFunction],
    *,
    k: int = 8,
    block: int = 512,
    max_pool: int | None = None,
    seed: int = 0,
) -> NeighbourNegatives:
    """The ``k`` nearest non-copy functions of each pair's function, among the functions of the
    pairs' own files and languages (held-out files never become negatives).

    ``embed`` maps code to L2-normalised rows (the model as training starts). ``max_pool`` caps
    the functions embedded: the pairs' own functions first, then a seeded sample of the others.
    """
    paths = {p.path for p in pairs}
    languages = {p.language for p in pairs}
    pool = [fn for fn in functions if fn.path in paths and fn.language in languages]
    if max_pool is not None and len(pool) > max_pool:
        pool = _capped_pool(pool, {p.function_key for p in pairs}, max_pool, seed)
    candidates = [Candidate(function_key(fn), fn.body_hash, fn.code) for fn in pool]
    out = NeighbourNegatives(candidates=candidates, neighbours={})
    if len(pool) < 2:
        return out
    row_of = {c.key: row for row, c in enumerate(candidates)}
    anchors = sorted({p.function_key for p in pairs if p.function_key in row_of}, key=row_of.__getitem__)
    # Embedded a block at a time: the tokenizer's output for every text at once would dwarf the vectors.
    vectors = np.concatenate(
        [np.asarray(embed([fn.code for fn in pool[i : i + _EMBED_BLOCK]]), dtype=np.float32)
         for i in range(0, len(pool), _EMBED_BLOCK)]
    )  # fmt: skip  # (N, D)
    memos: dict[str, dict[str, object]] = {}
    window = min(len(pool), _WINDOW * k + 1)
    for start in range(0, len(anchors), block):
        rows = [row_of[key] for key in anchors[start : start + block]]
        scores = vectors[rows] @ vectors.T  # (b, N)
        top = np.argpartition(-scores, window - 1, axis=1)[:, :window] if window < len(pool) else None
        for i, row in enumerate(rows):
            order = top[i] if top is not None else np.arange(len(pool))
            order = order[np.argsort(-scores[i, order], kind="stable")]
            mine = candidates[row]
            language = pool[row].language
            kept: list[int] = []
            for other in order:
                other = int(other)
                theirs = candidates[other]
                if other == row or theirs.key == mine.key or pool[other].language != language:
                    continue
                if theirs.body_hash == mine.body_hash or _is_copy(
                    language, mine.code, theirs.code, memos.setdefault(language, {})
                ):
                    out.excluded_copies += 1
                    continue
                kept.append(other)
                if len(kept) >= k:
                    break
            out.neighbours[mine.key] = kept
    log.info(
        "training.neighbours functions=%d anchors=%d k=%d excluded_copies=%d",
        len(pool), len(anchors), k, out.excluded_copies,
    )  # fmt: skip
    return out
