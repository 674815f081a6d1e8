"""Fitting a verdict on labelled pairs: it separates what it was fitted on, and its cut-offs behave."""

from __future__ import annotations

import numpy as np
import pytest

from embedding.verdict import Signals, Verdict
from embedding.verdict_fit import (
    FitOptions,
    LabelledPair,
    NotEnoughPairsError,
    before_after,
    cutoff_for_false_alarms,
    fit_logistic,
    fit_verdict,
    judge,
)


def _pairs(seed: int = 0, n: int = 400) -> list[LabelledPair]:
    """Copies: high containment and cosine, any Dice; non-copies: high cosine, low containment."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = float(np.clip(rng.normal(0.88, 0.05), -1, 1))
        k = float(np.clip(rng.normal(0.85, 0.08), 0, 1))
        out.append(LabelledPair(Signals(c, k * 0.8, k, 0.8, 1.0, 0.8), True, "real_edit"))
        c = float(np.clip(rng.normal(0.75, 0.08), -1, 1))
        k = float(np.clip(rng.normal(0.35, 0.12), 0, 1))
        out.append(LabelledPair(Signals(c, k * 0.9, k, 0.7, float(rng.random() < 0.2), 0.5), False, "neighbour"))
    return out


def test_logistic_fit_recovers_the_direction_of_a_separating_signal() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2))
    y = (x[:, 0] + 0.1 * rng.normal(size=600) > 0).astype(float)
    w, _ = fit_logistic(x, y, l2=0.1)
    assert w[0] > 5 * abs(w[1])


def test_a_fitted_verdict_catches_held_out_copies_within_its_false_alarm_budget() -> None:
    verdict = fit_verdict(_pairs(0), FitOptions(duplicate_false_alarms=0.01, related_false_alarms=0.1))
    report = judge(verdict, _pairs(1))  # another draw: not the pairs it was fitted on
    assert report.recall["all"] > 0.95
    assert report.false_alarms <= 0.03
    assert verdict.weights["containment"] > 0


def test_calibration_never_yields_related_at_or_above_duplicate() -> None:
    # Perfectly separable data puts both budgets at the same negative: related must still lie below.
    pairs = [LabelledPair(Signals(0.99, 0.99, 0.99, 1, 1, 1), True) for _ in range(30)]
    pairs += [LabelledPair(Signals(0.1, 0.1, 0.1, 1, 0, 1), False) for _ in range(30)]
    for budget in ((0.01, 0.01), (0.01, 0.5), (0.2, 0.2)):
        verdict = fit_verdict(pairs, FitOptions(duplicate_false_alarms=budget[0], related_false_alarms=budget[1]))
        assert verdict.related < verdict.duplicate


def test_the_duplicate_cutoff_flags_at_most_its_budget_of_the_negatives() -> None:
    scores = [i / 100 for i in range(100)]
    cutoff = cutoff_for_false_alarms(scores, 0.05)
    assert sum(s >= cutoff for s in scores) == 5


def test_too_few_pairs_is_a_clear_error() -> None:
    with pytest.raises(NotEnoughPairsError, match="at least 20 copies"):
        fit_verdict(_pairs(0, n=5))


def test_identical_bodies_are_left_out_of_the_fit_and_always_caught() -> None:
    pairs = _pairs(0) + [LabelledPair(Signals(0.1, 0.1, 0.1, 0.1, 0, 0), True, "exact", identical=True)]
    verdict = fit_verdict(pairs)
    assert judge(verdict, pairs).recall["exact"] == 1.0
    assert verdict.fitted["positives"] == 400


def test_before_after_names_both_verdicts_figures() -> None:
    pairs = _pairs(0)
    before = fit_verdict(pairs, FitOptions(duplicate_false_alarms=0.2, related_false_alarms=0.3))
    after = fit_verdict(pairs)
    table = before_after(before, after, pairs)
    assert (
        "copies caught: real_edit" in table and f"{after.duplicate:.3f}" in table and f"{before.duplicate:.3f}" in table
    )


def test_false_alarms_count_functions_not_pairs() -> None:
    # One function with three neighbours, all scoring high, is one false alarm, not three.
    negatives = [LabelledPair(Signals(0.9, 0.9, 0.9, 1, 1, 1), False, "neighbour", unit="f") for _ in range(3)]
    negatives += [LabelledPair(Signals(0.1, 0.1, 0.1, 1, 0, 1), False, "neighbour", unit=f"g{i}") for i in range(3)]
    positives = [LabelledPair(Signals(0.95, 0.95, 0.95, 1, 1, 1), True, "copy")]
    loose = Verdict(weights={"cosine": 1.0}, bias=0.0, duplicate=0.5, related=0.3, link="linear")
    report = judge(loose, positives + negatives)
    assert report.negatives == 4 and report.false_alarms == 0.25


