"""Which errors a task retries, and after how long. Pure: tested without Celery.

Only transient failures are retried: a ``TransientError`` raised by a service, a rate limit or a
5xx from GitHub, a dropped connection to Redis or the network. Anything else (a bad argument, a
404, a broken adapter) fails at once so that it is seen. The delay is exponential with full
jitter, capped, except that a ``Retry-After`` or ``X-RateLimit-Reset`` the server sent wins.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from core.errors import TransientError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
BASE_DELAY_S = 5.0


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying (see the module docstring)."""
    if isinstance(exc, TransientError):
        return True
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status in RETRYABLE_STATUSES:
        return True
    if status == 403 and _server_delay(exc, time.time()) is not None:
        return True  # GitHub's secondary rate limit answers 403 with Retry-After
    return _is_connection_error(exc)


def _is_connection_error(exc: BaseException) -> bool:
    # Imported lazily: each library is optional in some processes.
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import redis.exceptions

        kinds += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis ships with the bot extra
        pass
    try:
        import httpx

        kinds.append(httpx.TransportError)
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, tuple(kinds))


def _server_delay(exc: BaseException, now: float) -> float | None:
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after >= 0:
        return float(retry_after)
    reset_at = getattr(exc, "reset_at", None)
    if isinstance(reset_at, int | float):
        return max(0.0, float(reset_at) - now) + 1.0  # a second past the reset: clocks differ
    return None


def retry_delay(
    exc: BaseException,
    attempt: int,
    *,
    cap: float,
    now: float | None = None,
    jitter: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based) after ``exc``.

    A delay the server asked for is honoured even above ``cap``; otherwise exponential backoff
    from ``BASE_DELAY_S`` with full jitter, never above ``cap``.
    """
    asked = _server_delay(exc, time.time() if now is None else now)
    if asked is not None:
        return asked
    ceiling = min(cap, BASE_DELAY_S * (2 ** max(0, attempt)))
    return jitter(ceiling / 2, ceiling)
