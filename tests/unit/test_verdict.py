"""The verdict: signals of a pair, the model's score and cut-offs, and where a verdict comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.domain import FindingKind
from core.errors import ConfigError
from core.settings import Settings
from embedding.lexical import normalize
from embedding.verdict import (
    SIGNALS,
    Signals,
    Verdict,
    default_verdict,
    name_similarity,
    name_words,
    signals_of,
    verdict_for,
)

LOGISTIC = Verdict(weights={"cosine": 4.0, "lexical": 6.0, "name": 1.0}, bias=-8.0, duplicate=0.8, related=0.5)


def _signals(**values: float) -> Signals:
    base = {"cosine": 0.5, "lexical": 0.5, "containment": 0.5, "size_ratio": 1.0, "name": 0.0, "signature": 1.0}
    return Signals(**{**base, **values})


def test_the_logistic_score_rises_with_each_positive_signal() -> None:
    low = LOGISTIC.score(_signals(cosine=0.5, lexical=0.4))
    assert LOGISTIC.score(_signals(cosine=0.9, lexical=0.4)) > low
    assert LOGISTIC.score(_signals(cosine=0.5, lexical=0.9)) > low
    assert 0.0 < low < 1.0


@pytest.mark.parametrize(
    ("cosine", "lexical", "expected"),
    [(0.95, 0.95, FindingKind.DUPLICATE), (0.9, 0.8, FindingKind.RELATED), (0.3, 0.2, None)],
)
def test_classify_uses_both_cutoffs(cosine: float, lexical: float, expected: FindingKind | None) -> None:
    assert LOGISTIC.classify(_signals(cosine=cosine, lexical=lexical)) is expected


def test_an_identical_body_is_a_duplicate_whatever_the_scores() -> None:
    assert LOGISTIC.classify(_signals(cosine=0.1, lexical=0.1)) is None
    assert LOGISTIC.classify(_signals(cosine=0.1, lexical=0.1), identical=True) is FindingKind.DUPLICATE


def test_the_legacy_blend_is_the_linear_link() -> None:
    legacy = Verdict.legacy(0.76, 0.58, 0.9, source="adapter:python")
    assert legacy.score(_signals(cosine=0.8, lexical=0.4)) == pytest.approx(0.1 * 0.8 + 0.9 * 0.4)
    with pytest.raises(ConfigError, match="lexical weight"):
        Verdict.legacy(0.76, 0.58, 1.5, source="x")


def test_related_always_lies_below_duplicate() -> None:
    with pytest.raises(ConfigError, match="below the duplicate"):
        Verdict(weights={"cosine": 1.0}, bias=0.0, duplicate=0.6, related=0.6)
    moved = LOGISTIC.with_cutoffs(duplicate=0.4)
    assert moved.related < moved.duplicate == 0.4
    for level in ("strict", "normal", "lenient"):
        shifted = LOGISTIC.with_strictness(level)
        assert shifted.related < shifted.duplicate


def test_strictness_moves_both_cutoffs_the_right_way() -> None:
    strict, lenient = LOGISTIC.with_strictness("strict"), LOGISTIC.with_strictness("lenient")
    assert strict.duplicate < LOGISTIC.duplicate < lenient.duplicate
    assert strict.related < LOGISTIC.related < lenient.related
    with pytest.raises(ConfigError, match="strictness"):
        LOGISTIC.with_strictness("paranoid")


def test_a_verdict_round_trips_through_json() -> None:
    again = Verdict.from_dict(json.loads(json.dumps(LOGISTIC.to_dict())))
    assert again == LOGISTIC


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"weights": {"cosine": 1.0}, "duplicate": 0.5}, "related"),
        ({"weights": {"smell": 1.0}, "duplicate": 0.9, "related": 0.5}, "unknown signals"),
        ({"weights": {"cosine": "x"}, "duplicate": 0.9, "related": 0.5}, "bad verdict"),
        ({"weights": {"cosine": 1.0}, "duplicate": 0.9, "related": 0.5, "link": "probit"}, "link"),
        ([1, 2], "JSON object"),
        ({"weights": {"cosine": 1.0}, "duplicate": float("nan"), "related": 0.5}, "finite"),
    ],
)
def test_a_malformed_verdict_is_an_error_that_names_the_problem(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Verdict.from_dict(data)


def test_error_messages_never_carry_huge_values() -> None:
    with pytest.raises(ConfigError) as caught:
        Verdict.from_dict({"weights": "w" * 100_000, "duplicate": 1, "related": 0})
    assert len(str(caught.value)) < 300


def test_verdict_for_prefers_the_adapters_fitted_verdict_then_its_legacy_thresholds_then_the_default() -> None:
    settings = Settings(lexical_weight=0.5)
    fitted = verdict_for(settings, "python", {"verdict": LOGISTIC.to_dict()})
    assert (fitted.weights, fitted.source) == (LOGISTIC.weights, "adapter:python")
    legacy = verdict_for(settings, "go", {"thresholds": {"duplicate": 0.9, "related": 0.8}})
    assert (legacy.link, legacy.weights["lexical"], legacy.source) == ("linear", 0.5, "adapter:go")
    assert verdict_for(settings, None, {}) == default_verdict()


def test_settings_cutoffs_replace_the_verdicts_and_win_over_strictness() -> None:
    verdict = verdict_for(Settings(duplicate_threshold=0.9, related_threshold=0.7, strictness="strict"))
    assert (verdict.duplicate, verdict.related) == (0.9, 0.7)
    strict = verdict_for(Settings(strictness="strict"))
    assert strict.duplicate < default_verdict().duplicate


def test_the_settings_verdict_path_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(LOGISTIC.to_dict()), encoding="utf-8")
    assert verdict_for(Settings(verdict_path=path)).weights == LOGISTIC.weights


def test_the_shipped_default_is_valid_and_keeps_related_below_duplicate() -> None:
    verdict = default_verdict()
    assert verdict.related < verdict.duplicate
    assert set(verdict.weights) <= set(SIGNALS) and verdict.link == "logistic"


def test_name_words_split_snake_camel_and_acronyms() -> None:
    assert name_words("Client.parseHTTPHeaders") == ["parse", "http", "headers"]
    assert name_words("parse_http_headers") == ["parse", "http", "headers"]
    assert name_similarity("parse_headers", "parseHeaders") == 1.0
    assert name_similarity("get", "put") == 0.0


def test_signals_of_a_grown_copy_keep_containment_high_while_dice_drops() -> None:
    original = "def total(items):\n    s = 0\n    for i in items:\n        s += i.price\n    return s\n"
    grown = (
        "def total(items, tax=0.0, *, rounding=2):\n    s = 0\n    for i in items:\n        s += i.price\n"
        "    if tax:\n        s *= 1 + tax\n    log.debug('total %s', s)\n    return round(s, rounding)\n"
    )
    signals = signals_of(0.9, normalize("python", original), normalize("python", grown), "total", "total")
    assert signals.containment > signals.lexical
    assert signals.containment > 0.7
    assert signals.size_ratio < 0.8
    assert signals.name == 1.0
    assert 0.0 < signals.signature < 1.0  # items kept, tax and rounding added
