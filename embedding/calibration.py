"""Thresholds for "near-duplicate" and "related", calibrated on held-out copies and the neighbours a review sees.

Positives are pairs of a function and a copy of it (a synthetic clone, or the function at two
commits); negatives are each copy's nearest pool functions that are not copies
(``embedding.evaluation``'s ``labelled`` pairs, the same ones the verdict is refitted on), never
random pairs: a random non-clone is far easier to turn down than the nearest neighbour a review
compares against, and thresholds calibrated on random pairs loosen reviews (after one Ruby
training they came out at 0.415 / 0.182 against the base model's 0.76 / 0.58, and a review then
flagged 2 of 30 genuinely new functions). A negative counts once per copy (its best-scoring
neighbour), as a user sees a function flagged once. The ``duplicate`` threshold is the lowest
score at which the precision of "score ≥ threshold" still reaches the target (so recall is as high
as that precision allows); ``related`` is the same at a lower precision, and always lies strictly
below ``duplicate`` (by ``MIN_GAP``).

The score is the one the review's legacy verdict uses (``embedding.verdict.Verdict.legacy``): the
adapter's cosine blended with lexical similarity at ``lexical_weight`` (0: cosine alone). The
weight is stored beside the thresholds (``doppel.json`` → ``"thresholds"``: ``duplicate``,
``related``, ``lexical_weight``) so that the review applies exactly what was calibrated. Pure
functions over floats and labelled pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from embedding.verdict import MIN_GAP
from embedding.verdict_fit import LabelledPair


@dataclass(frozen=True)
class Thresholds:
    duplicate: float
    related: float
    precision: float  # at the duplicate threshold, on the calibration set
    recall: float
    reached: bool  # False when no threshold reaches the target precision (then duplicate = max score)
    positives: int
    negatives: int
    lexical_weight: float = 0.0  # of the combined score the thresholds apply to (0: cosine alone)

    def to_metadata(self) -> dict[str, float]:
        """The part stored in doppel.json (what ``embedding.verdict.thresholds_from`` reads)."""
        return {
            "duplicate": round(self.duplicate, 4),
            "related": round(self.related, 4),
            "lexical_weight": round(self.lexical_weight, 4),
        }

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            **self.to_metadata(),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "reached": self.reached,
            "positives": self.positives,
            "negatives": self.negatives,
        }


def combined_scores(cosines: Sequence[float], lexicals: Sequence[float] | None, weight: float) -> list[float]:
    """``(1 - weight) * cosine + weight * lexical`` row by row (the verdict's score); cosines alone at weight 0."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"lexical weight must lie in [0, 1], got {weight}")
    if weight == 0.0:
        return [float(c) for c in cosines]
    if lexicals is None or len(lexicals) != len(cosines):
        raise ValueError(
            f"a lexical weight of {weight} needs one lexical score per cosine "
            f"({len(cosines)} cosines, {0 if lexicals is None else len(lexicals)} lexical scores)"
        )
    return [(1.0 - weight) * float(c) + weight * float(x) for c, x in zip(cosines, lexicals, strict=True)]


def precision_recall(positives: Sequence[float], negatives: Sequence[float], threshold: float) -> tuple[float, float]:
    """Precision and recall of "score ≥ threshold" (precision 1.0 when nothing passes)."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    tp = int(np.count_nonzero(pos >= threshold))
    fp = int(np.count_nonzero(neg >= threshold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / pos.size if pos.size else 0.0
    return precision, recall


def threshold_at_precision(positives: Sequence[float], negatives: Sequence[float], target: float) -> tuple[float, bool]:
    """Lowest threshold whose precision reaches ``target``; (max score, False) when none does."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if pos.size == 0:
        raise ValueError("calibration needs at least one positive (clone) score")
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(pos.size, dtype=bool), np.zeros(neg.size, dtype=bool)])
    # Highest scores first; among equal scores, negatives first (pessimistic about ties).
    order = np.lexsort((labels, -scores))
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    precision = tp / (tp + fp)
    # A threshold can only sit at the last of a run of equal scores (everything equal passes together).
    last_of_value = np.append(s[1:] != s[:-1], True)
    ok = np.flatnonzero((precision >= target) & last_of_value & y)
    if ok.size == 0:
        return float(s[0]), False
    return float(s[ok[-1]]), True


def calibrate(
    positives: Sequence[float],
    negatives: Sequence[float],
    *,
    target_precision: float = 0.95,
    related_precision: float = 0.7,
    lexical_weight: float = 0.0,
) -> Thresholds:
    """The duplicate threshold at ``target_precision`` and the related one at ``related_precision``.

    ``positives``/``negatives`` are already scores of the kind the thresholds will apply to;
    ``lexical_weight`` records which (see ``combined_scores``)."""
    if not 0 < related_precision <= target_precision <= 1:
        raise ValueError(
            f"need 0 < related_precision ({related_precision}) <= target_precision ({target_precision}) <= 1"
        )
    duplicate, reached = threshold_at_precision(positives, negatives, target_precision)
    related, _ = threshold_at_precision(positives, negatives, related_precision)
    # Both precisions can be met first at one score (small sets): "related" would then vanish.
    related = min(related, duplicate - MIN_GAP)
    precision, recall = precision_recall(positives, negatives, duplicate)
    return Thresholds(
        duplicate=duplicate,
        related=related,
        precision=precision,
        recall=recall,
        reached=reached,
        positives=len(positives),
        negatives=len(negatives),
        lexical_weight=lexical_weight,
    )


def recall_by_type(scored: Iterable[tuple[float, str]], threshold: float) -> dict[str, float]:
    """Share of clone pairs at or above ``threshold``, per clone type (``renamed``, ``edited``)."""
    hits: dict[str, list[bool]] = {}
    for score, kind in scored:
        hits.setdefault(kind, []).append(score >= threshold)
    return {kind: round(sum(flags) / len(flags), 4) for kind, flags in sorted(hits.items())}


def labelled_scores(
    pairs: Iterable[LabelledPair], lexical_weight: float
) -> tuple[list[tuple[float, str]], list[float]]:
    """Scores of labelled pairs at ``lexical_weight``: ``(score, group)`` per copy (identical bodies
    left out: they are duplicates whatever the score) and, per negative unit (one copy's or one
    function's neighbours), its best-scoring neighbour's score."""
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError(f"lexical weight must lie in [0, 1], got {lexical_weight}")
    positives: list[tuple[float, str]] = []
    best: dict[str, float] = {}
    for index, pair in enumerate(pairs):
        score = (1.0 - lexical_weight) * pair.signals.cosine + lexical_weight * pair.signals.lexical
        if pair.positive:
            if not pair.identical:
                positives.append((score, pair.group or "copy"))
            continue
        unit = pair.unit or f"#{index}"
        best[unit] = max(score, best.get(unit, score))
    return positives, list(best.values())


def calibrate_labelled(
    pairs: Sequence[LabelledPair],
    *,
    target_precision: float = 0.95,
    related_precision: float = 0.7,
    lexical_weight: float = 0.0,
) -> Thresholds | None:
    """``calibrate`` on labelled pairs (copies vs their nearest non-copy neighbours); ``None``
    without a positive."""
    positives, negatives = labelled_scores(pairs, lexical_weight)
    if not positives:
        return None
    return calibrate(
        [score for score, _ in positives],
        negatives,
        target_precision=target_precision,
        related_precision=related_precision,
        lexical_weight=lexical_weight,
    )


def apply_labelled(pairs: Sequence[LabelledPair], thresholds: Thresholds) -> dict[str, object]:
    """Precision and recall of ``thresholds`` on other labelled pairs (the test split), overall and
    per group of copies; ``{}`` without a positive."""
    positives, negatives = labelled_scores(pairs, thresholds.lexical_weight)
    if not positives:
        return {}
    scores = [score for score, _ in positives]
    precision, recall = precision_recall(scores, negatives, thresholds.duplicate)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "recall_by_type": recall_by_type(positives, thresholds.duplicate),
        "positives": len(positives),
        "negatives": len(negatives),
    }
