"""The verdict: combined score, classification and where thresholds come from."""

from __future__ import annotations

import pytest

from core.domain import FindingKind
from core.errors import ConfigError
from core.settings import Settings
from embedding.verdict import Thresholds, classify, combined_score, thresholds_from


def _settings(**overrides: float) -> Settings:
    values = {"duplicate_threshold": 0.85, "related_threshold": 0.7, "lexical_weight": 0.5, **overrides}
    return Settings(**values)


def test_combined_score_blends_by_weight() -> None:
    assert combined_score(0.8, 0.4, 0.0) == pytest.approx(0.8)
    assert combined_score(0.8, 0.4, 1.0) == pytest.approx(0.4)
    assert combined_score(0.8, 0.4, 0.25) == pytest.approx(0.7)


def test_combined_score_rejects_a_weight_outside_0_1() -> None:
    with pytest.raises(ConfigError, match="lexical weight"):
        combined_score(0.5, 0.5, 1.5)


@pytest.mark.parametrize(
    ("cosine", "lexical", "expected"),
    [
        (0.95, 0.95, FindingKind.DUPLICATE),
        (0.9, 0.8, FindingKind.DUPLICATE),  # 0.85: at the threshold counts
        (0.9, 0.6, FindingKind.RELATED),
        (0.75, 0.65, FindingKind.RELATED),  # 0.70: at the related threshold
        (0.75, 0.3, None),
    ],
)
def test_classify_uses_both_thresholds(cosine: float, lexical: float, expected: FindingKind | None) -> None:
    assert classify(cosine, lexical, Thresholds.from_settings(_settings())) is expected


def test_an_identical_body_is_a_duplicate_whatever_the_scores() -> None:
    thresholds = Thresholds.from_settings(_settings())
    assert classify(0.2, 0.1, thresholds) is None
    assert classify(0.2, 0.1, thresholds, identical=True) is FindingKind.DUPLICATE


def test_lexical_weight_zero_is_cosine_alone() -> None:
    thresholds = Thresholds(duplicate=0.9, related=0.8, lexical_weight=0.0)
    assert classify(0.91, 0.0, thresholds) is FindingKind.DUPLICATE
    assert classify(0.89, 1.0, thresholds) is FindingKind.RELATED


def test_thresholds_come_from_settings_without_adapter_metadata() -> None:
    thresholds = thresholds_from(_settings(), None, {})
    assert (thresholds.duplicate, thresholds.related, thresholds.lexical_weight) == (0.85, 0.7, 0.5)
    assert thresholds.source == "settings"


def test_calibrated_adapter_thresholds_win_over_settings() -> None:
    metadata = {"version": "abc", "thresholds": {"duplicate": 0.93, "related": 0.81}}
    thresholds = thresholds_from(_settings(), "python", metadata)
    assert (thresholds.duplicate, thresholds.related) == (0.93, 0.81)
    assert thresholds.lexical_weight == 0.5  # not in the metadata: from settings
    assert thresholds.source == "adapter:python"


def test_adapter_metadata_may_carry_its_own_lexical_weight() -> None:
    metadata = {"thresholds": {"duplicate": 0.9, "related": 0.8, "lexical_weight": 0.2}}
    assert thresholds_from(_settings(), "shared", metadata).lexical_weight == 0.2


@pytest.mark.parametrize("bad", [[0.9, 0.8], {"duplicate": "high"}, {"duplicate": 0.5, "related": 0.9}])
def test_malformed_adapter_thresholds_are_an_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="adapter 'python'|related"):
        thresholds_from(_settings(), "python", {"thresholds": bad})


def test_thresholds_validate_their_fields() -> None:
    with pytest.raises(ConfigError, match="lexical_weight"):
        Thresholds(duplicate=0.9, related=0.8, lexical_weight=2.0)
    with pytest.raises(ConfigError, match="must not exceed"):
        Thresholds(duplicate=0.7, related=0.8, lexical_weight=0.5)
    with pytest.raises(ConfigError, match="duplicate"):
        Thresholds(duplicate=float("nan"), related=0.8, lexical_weight=0.5)


def test_thresholds_to_dict_names_the_source() -> None:
    assert Thresholds(0.9, 0.8, 0.4, "adapter:go").to_dict() == {
        "duplicate": 0.9, "related": 0.8, "lexical_weight": 0.4, "source": "adapter:go",
    }  # fmt: skip
