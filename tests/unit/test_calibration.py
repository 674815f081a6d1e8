"""Threshold calibration: the duplicate threshold reaches the target precision on its set."""

from __future__ import annotations

import numpy as np
import pytest

from embedding.calibration import calibrate, precision_recall, recall_by_type, threshold_at_precision


def test_calibrated_threshold_reaches_target_precision_on_its_set() -> None:
    rng = np.random.default_rng(0)
    positives = np.clip(rng.normal(0.9, 0.05, 400), -1, 1).tolist()
    negatives = np.clip(rng.normal(0.55, 0.15, 2000), -1, 1).tolist()
    t = calibrate(positives, negatives, target_precision=0.95, related_precision=0.7)
    precision, recall = precision_recall(positives, negatives, t.duplicate)
    assert t.reached and precision >= 0.95
    assert (t.precision, t.recall) == (precision, recall)
    assert t.related < t.duplicate
    # The lowest such threshold: one step below it, precision falls under the target.
    below = max(s for s in positives + negatives if s < t.duplicate)
    assert precision_recall(positives, negatives, below)[0] < 0.95
    assert t.to_metadata() == {
        "duplicate": round(t.duplicate, 4),
        "related": round(t.related, 4),
        "lexical_weight": 0.0,
    }


def test_separable_scores_give_full_recall() -> None:
    threshold, reached = threshold_at_precision([0.9, 0.95, 0.97], [0.1, 0.5, 0.8], 0.95)
    assert (threshold, reached) == (0.9, True)


def test_ties_with_negatives_are_pessimistic() -> None:
    # At 0.9 one positive and one negative tie: precision there is 2/3, so the threshold stays at 0.95.
    threshold, _ = threshold_at_precision([0.9, 0.95], [0.9, 0.1], 0.9)
    assert threshold == 0.95


def test_unreachable_target_is_flagged() -> None:
    threshold, reached = threshold_at_precision([0.5], [0.9, 0.8], 0.95)
    assert (threshold, reached) == (0.9, False)


def test_needs_positives_and_ordered_precisions() -> None:
    with pytest.raises(ValueError, match="positive"):
        calibrate([], [0.1])
    with pytest.raises(ValueError, match="related_precision"):
        calibrate([0.9], [0.1], target_precision=0.8, related_precision=0.9)


def test_recall_by_type() -> None:
    scored = [(0.95, "renamed"), (0.85, "renamed"), (0.91, "edited"), (0.7, "edited")]
    assert recall_by_type(scored, 0.9) == {"edited": 0.5, "renamed": 0.5}


def test_combined_scores_are_the_legacy_verdicts_score_and_round_trip_through_verdict_for() -> None:
    from core.settings import Settings
    from embedding.calibration import combined_scores
    from embedding.verdict import Signals, Verdict, verdict_for

    cosines, lexicals = [0.9, 0.2, 0.6], [0.8, 0.1, 0.95]
    legacy = Verdict.legacy(0.9, 0.5, 0.9, source="x")
    assert combined_scores(cosines, lexicals, 0.9) == pytest.approx(
        [legacy.score(Signals(c, x, 0.0, 1.0, 0.0, 1.0)) for c, x in zip(cosines, lexicals, strict=True)]
    )
    assert combined_scores(cosines, None, 0.0) == cosines
    with pytest.raises(ValueError, match="one lexical score per cosine"):
        combined_scores(cosines, [0.5], 0.9)
    t = calibrate(combined_scores(cosines, lexicals, 0.7), [0.1], lexical_weight=0.7)
    review = verdict_for(Settings(lexical_weight=0.9), "python", {"thresholds": t.to_metadata()})
    assert (review.duplicate, review.weights["lexical"]) == (round(t.duplicate, 4), 0.7)
    assert review.related < review.duplicate


def test_related_stays_below_duplicate_when_both_precisions_are_first_met_at_one_score() -> None:
    """The defect: on a small repository both bars came out at 0.60 and "related" disappeared."""
    from embedding.verdict import MIN_GAP

    t = calibrate([0.6, 0.7, 0.8], [0.1, 0.2], target_precision=0.95, related_precision=0.7)
    assert t.duplicate == 0.6
    assert t.related == pytest.approx(0.6 - MIN_GAP) and t.related < t.duplicate


def _pair(cosine: float, lexical: float, positive: bool, *, unit: str = "", group: str = "", identical: bool = False):  # type: ignore[no-untyped-def]
    from embedding.verdict import Signals
    from embedding.verdict_fit import LabelledPair

    return LabelledPair(Signals(cosine, lexical, 0.5, 1.0, 0.0, 0.0), positive, group, identical=identical, unit=unit)


def test_labelled_calibration_counts_each_copys_nearest_neighbour_once_and_skips_identical_copies() -> None:
    from embedding.calibration import apply_labelled, calibrate_labelled, labelled_scores

    pairs = [
        _pair(0.9, 0.8, True, group="synthetic:renamed"),
        _pair(0.8, 0.9, True, group="history"),
        _pair(0.2, 0.2, True, group="history", identical=True),  # a duplicate whatever it scores
        _pair(0.7, 0.3, False, unit="a"),  # a's nearest neighbour
        _pair(0.5, 0.1, False, unit="a"),
        _pair(0.6, 0.2, False, unit="b"),
    ]
    positives, negatives = labelled_scores(pairs, 0.5)
    assert positives == [(pytest.approx(0.85), "synthetic:renamed"), (pytest.approx(0.85), "history")]
    assert negatives == [pytest.approx(0.5), pytest.approx(0.4)]  # one per unit: its best neighbour
    t = calibrate_labelled(pairs, target_precision=0.95, related_precision=0.7, lexical_weight=0.5)
    assert t is not None and t.duplicate == pytest.approx(0.85) and (t.positives, t.negatives) == (2, 2)
    assert t.related < t.duplicate
    applied = apply_labelled(pairs, t)
    assert applied["recall_by_type"] == {"history": 1.0, "synthetic:renamed": 1.0}
    assert calibrate_labelled([_pair(0.3, 0.3, False)]) is None


def test_nearest_neighbours_give_stricter_bars_than_random_pairs() -> None:
    """Why the calibration uses the neighbours a review sees: random non-copies are easy."""
    rng = np.random.default_rng(3)
    copies = np.clip(rng.normal(0.85, 0.07, 300), -1, 1).tolist()
    random_pairs = np.clip(rng.normal(0.25, 0.1, 1500), -1, 1).tolist()
    nearest = np.clip(rng.normal(0.7, 0.08, 300), -1, 1).tolist()
    loose = calibrate(copies, random_pairs)
    strict = calibrate(copies, nearest)
    assert strict.duplicate > loose.duplicate and strict.related > loose.related
    assert (
        precision_recall(copies, nearest, loose.duplicate)[0]
        < 0.95
        <= precision_recall(copies, nearest, strict.duplicate)[0]
    )
