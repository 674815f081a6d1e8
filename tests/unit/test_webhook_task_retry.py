"""Which task errors are retried, and the delay: server hints win, backoff is capped."""

from __future__ import annotations

import pytest
import redis

from core.errors import ConfigError, TransientError
from github_adapter.errors import GitHubError
from workers.tasks.retry import BASE_DELAY_S, is_transient, retry_delay


def _top(low: float, high: float) -> float:
    return high


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("busy"),
        GitHubError("bad gateway", status=502),
        GitHubError("rate limited", status=429),
        redis.exceptions.ConnectionError("down"),
        ConnectionResetError("reset"),
    ],
)
def test_transient_errors(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ConfigError("bad setting"),
        GitHubError("not found", status=404),
        GitHubError("forbidden", status=403),
        ValueError("x"),
    ],
)
def test_permanent_errors(exc: Exception) -> None:
    assert not is_transient(exc)


def test_a_403_with_retry_after_is_a_secondary_rate_limit() -> None:
    exc = GitHubError("secondary rate limit", status=403)
    exc.retry_after = 60  # type: ignore[attr-defined]
    assert is_transient(exc)


def test_backoff_doubles_and_is_capped() -> None:
    delays = [retry_delay(TransientError("x"), attempt, cap=60, jitter=_top) for attempt in range(6)]
    assert delays == [BASE_DELAY_S, 2 * BASE_DELAY_S, 4 * BASE_DELAY_S, 8 * BASE_DELAY_S, 60, 60]


def test_jitter_stays_within_half_to_full_ceiling() -> None:
    seen = [retry_delay(TransientError("x"), 2, cap=600) for _ in range(50)]
    assert all(2 * BASE_DELAY_S <= d <= 4 * BASE_DELAY_S for d in seen)


def test_retry_after_wins_even_above_the_cap() -> None:
    assert retry_delay(TransientError("x", retry_after=900), 0, cap=60) == 900


def test_rate_limit_reset_is_honoured() -> None:
    exc = TransientError("quota", reset_at=1_000_120.0)
    assert retry_delay(exc, 0, cap=60, now=1_000_000.0) == 121.0
    assert retry_delay(exc, 0, cap=60, now=1_000_500.0) == 1.0  # reset already passed
