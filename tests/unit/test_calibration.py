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
    assert t.related <= t.duplicate
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
