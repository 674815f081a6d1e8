"""Fitting a verdict (``embedding.verdict.Verdict``) on labelled pairs, and judging one on them.

Positives are pairs of a function and a copy of it (the same function at two commits, a real
edit; or a synthetic clone); negatives are each function's nearest neighbours that are *not*
copies, the pairs a review actually has to turn down. The model is an L2-regularised logistic
regression over the verdict's signals, fitted by iteratively reweighted least squares (numpy
only; a few hundred to a few hundred thousand rows). Its two cut-offs are set by false-alarm
budgets on the negatives, the rate a user sees: ``duplicate`` flags at most
``duplicate_false_alarms`` of them, ``related`` at most ``related_false_alarms``, and related
always lies below duplicate. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedding.verdict import MIN_GAP, SIGNALS, Signals, Verdict


@dataclass(frozen=True)
class LabelledPair:
    """One pair of functions with its signals and whether it is a copy.

    ``group`` names where it came from, for reports (``history``, ``synthetic:renamed``,
    ``real_edit``, ``neighbour``); ``identical``: same normalised body hash (always a duplicate);
    ``unit``: the changed function a negative pair belongs to (its nearest neighbours share it), so
    false alarms count functions flagged, as a user sees them; empty: the pair is its own unit."""

    signals: Signals
    positive: bool
    group: str = ""
    identical: bool = False
    unit: str = ""  # the function a negative belongs to: a false alarm is counted once per unit


@dataclass(frozen=True)
class FitOptions:
    """How a verdict is fitted. ``l2``: ridge penalty on the (standardised) weights;
    ``duplicate_false_alarms``/``related_false_alarms``: shares of negatives each cut-off may flag."""

    l2: float = 1.0
    duplicate_false_alarms: float = 0.01
    related_false_alarms: float = 0.08
    signals: tuple[str, ...] = SIGNALS
    min_positives: int = 20
    min_negatives: int = 20

    def __post_init__(self) -> None:
        if self.l2 < 0:
            raise ValueError(f"FitOptions.l2 must be ≥ 0, got {self.l2}")
        if not 0 < self.duplicate_false_alarms <= self.related_false_alarms < 1:
            raise ValueError(
                "need 0 < duplicate_false_alarms ≤ related_false_alarms < 1, got "
                f"{self.duplicate_false_alarms} and {self.related_false_alarms}"
            )
        unknown = set(self.signals) - set(SIGNALS)
        if unknown or not self.signals:
            raise ValueError(f"FitOptions.signals must be a non-empty subset of {SIGNALS}, got {self.signals}")


class NotEnoughPairsError(ValueError):
    """Too few positives or negatives to fit a verdict; the caller keeps the verdict it has."""


def _matrix(pairs: Sequence[LabelledPair], names: Sequence[str]) -> np.ndarray:
    return np.array([[getattr(p.signals, n) for n in names] for p in pairs], dtype=np.float64).reshape(
        len(pairs), len(names)
    )  # (N, F)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 50, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """``(w, b)`` of an L2-regularised logistic regression on ``x`` (N, F) and 0/1 ``y`` (N,).

    Columns are standardised for the fit (so ``l2`` treats every signal alike) and the weights are
    returned on the original scale; the intercept is not penalised. ``weights``: per-row weights
    (balance the classes, e.g.)."""
    n, f = x.shape
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    a = np.hstack([z, np.ones((n, 1))])  # (N, F+1)
    rows = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    penalty = np.full(f + 1, float(l2))
    penalty[-1] = 0.0
    theta = np.zeros(f + 1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -30, 30)))  # (N,)
        gradient = a.T @ (rows * (p - y)) + penalty * theta
        hessian = (a * (rows * p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    w = theta[:f] / scale
    b = float(theta[f] - np.sum(theta[:f] * mean / scale))
    return w, b


def cutoff_for_false_alarms(negative_scores: Sequence[float], share: float) -> float:
    """The lowest cut-off that flags at most ``share`` of the negatives (strictly above the rest)."""
    scores = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    if scores.size == 0:
        return 0.5
    allowed = int(np.floor(share * scores.size))  # this many may reach the cut-off
    if allowed >= scores.size:
        return float(scores[-1])
    # Just above the first negative that must stay below it.
    return float(np.nextafter(scores[allowed], np.inf))


def unit_maxima(verdict: Verdict, negatives: Sequence[LabelledPair]) -> list[float]:
    """The highest score per unit among negative pairs: a function is flagged when any of its
    neighbours is (pairs without a unit count alone)."""
    best: dict[str, float] = {}
    for index, pair in enumerate(negatives):
        key = pair.unit or f"#{index}"
        score = verdict.score(pair.signals)
        best[key] = max(score, best.get(key, score))
    return list(best.values())


def fit_verdict(
    pairs: Sequence[LabelledPair],
    options: FitOptions = FitOptions(),
    *,
    source: str = "fitted",
    fitted: Mapping[str, Any] | None = None,
) -> Verdict:
    """A logistic verdict fitted on ``pairs`` with cut-offs at the options' false-alarm budgets.

    Identical-body pairs are left out of the fit (they are duplicates whatever the model says).
    Classes are balanced by row weights, so the score reads alike whatever the mix."""
    usable = [p for p in pairs if not p.identical]
    positives = sum(1 for p in usable if p.positive)
    negatives = len(usable) - positives
    if positives < options.min_positives or negatives < options.min_negatives:
        raise NotEnoughPairsError(
            f"fitting a verdict needs at least {options.min_positives} copies and {options.min_negatives} "
            f"non-copies; got {positives} and {negatives}"
        )
    names = options.signals
    x = _matrix(usable, names)
    y = np.array([1.0 if p.positive else 0.0 for p in usable])
    rows = np.where(y == 1.0, 0.5 / positives, 0.5 / negatives) * len(usable)
    w, b = fit_logistic(x, y, l2=options.l2, weights=rows)
    model = Verdict(weights=dict(zip(names, (float(v) for v in w), strict=True)), bias=b, duplicate=1.0, related=0.5)
    negative_scores = unit_maxima(model, [p for p in usable if not p.positive])
    duplicate = min(1.0, cutoff_for_false_alarms(negative_scores, options.duplicate_false_alarms))
    related = min(cutoff_for_false_alarms(negative_scores, options.related_false_alarms), duplicate - MIN_GAP)
    meta = {"positives": positives, "negatives": negatives, "l2": options.l2,
            "duplicate_false_alarms": options.duplicate_false_alarms,
            "related_false_alarms": options.related_false_alarms, **(fitted or {})}  # fmt: skip
    return Verdict(model.weights, b, duplicate=duplicate, related=related, source=source, fitted=meta)


# --- judging a verdict on labelled pairs ----------------------------------------------------------
@dataclass
class VerdictReport:
    """How a verdict does on labelled pairs: recall per group of positives, flags among negatives."""

    recall: dict[str, float] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)
    false_alarms: float = 0.0
    related_alarms: float = 0.0
    negatives: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "recall": {k: round(v, 4) for k, v in self.recall.items()},
            "positives": dict(self.positives),
            "false_alarms": round(self.false_alarms, 4),
            "related_alarms": round(self.related_alarms, 4),
            "negatives": self.negatives,
        }


def judge(verdict: Verdict, pairs: Iterable[LabelledPair]) -> VerdictReport:
    """Recall (duplicate) per group of positives and overall, and the share of negative units
    (functions) with a pair flagged duplicate (``false_alarms``) or at least related."""
    from core.domain import FindingKind

    hits: dict[str, list[bool]] = {}
    flagged: dict[str, bool] = {}
    mentioned: dict[str, bool] = {}
    for index, pair in enumerate(pairs):
        kind = verdict.classify(pair.signals, identical=pair.identical)
        if pair.positive:
            for group in dict.fromkeys(("all", pair.group or "all")):
                hits.setdefault(group, []).append(kind is FindingKind.DUPLICATE)
        else:
            unit = pair.unit or f"#{index}"
            flagged[unit] = flagged.get(unit, False) or kind is FindingKind.DUPLICATE
            mentioned[unit] = mentioned.get(unit, False) or kind is not None
    report = VerdictReport(negatives=len(flagged))
    for group, values in sorted(hits.items()):
        report.recall[group] = sum(values) / len(values)
        report.positives[group] = len(values)
    if flagged:
        report.false_alarms = sum(flagged.values()) / len(flagged)
        report.related_alarms = sum(mentioned.values()) / len(mentioned)
    return report


def before_after(before: Verdict, after: Verdict, pairs: Sequence[LabelledPair]) -> str:
    """A small Markdown table: the calibration set judged by the verdict in force and by the new one."""
    old, new = judge(before, pairs), judge(after, pairs)
    lines = ["| on the calibration set | before | after |", "|---|---:|---:|"]
    for group in sorted(set(old.recall) | set(new.recall)):
        n = new.positives.get(group, old.positives.get(group, 0))
        lines.append(
            f"| copies caught: {group} (n={n}) | {old.recall.get(group, 0):.3f} | {new.recall.get(group, 0):.3f} |"
        )
    lines.append(
        f"| non-copies flagged duplicate (n={new.negatives}) | {old.false_alarms:.3f} | {new.false_alarms:.3f} |"
    )
    lines.append(f"| non-copies flagged related or more | {old.related_alarms:.3f} | {new.related_alarms:.3f} |")
    lines.append(f"| cut-offs duplicate / related | {before.duplicate:.3f} / {before.related:.3f} | "
                 f"{after.duplicate:.3f} / {after.related:.3f} |")  # fmt: skip
    return "\n".join(lines)
