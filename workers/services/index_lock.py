"""One writer per index collection at a time: a lease in Redis, or a no-op for a single process.

Every write to a collection (a push's update, the reconciler's, an installation's first index, a
retrain's rebuild into a new collection) runs under ``IndexLock.hold(collection)``. Reviews and
``/similar`` never write, so they never take it.

``RedisIndexLock`` is a lease: ``SET key token NX PX ttl`` takes it, a Lua compare-and-delete gives
it back (never someone else's), and the writer renews it while it works (``Lease.renew``, at most
every third of the lease), so that a dead worker's lease runs out on its own. A job that finds the
lease held gets ``IndexBusyError`` (a ``TransientError``: the task retries later, after the time
the holder's lease has left, capped); a writer whose lease ran out and was taken by another stops
with ``IndexLeaseLostError`` before writing more. ``LocalIndexLock`` is for the CLI and the
Action, where one process owns the embedded index anyway.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from core.errors import TransientError

log = logging.getLogger(__name__)

KEY_PREFIX = "doppel:index-writer:"
MAX_RETRY_AFTER_S = 60.0

# KEYS: lock. ARGV: token. 1 when the caller held it and gave it back.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lock. ARGV: token, ttl ms. 1 when the caller still held it (and now holds it longer).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class IndexBusyError(TransientError):
    """Another job is writing this collection; try again later."""


class IndexLeaseLostError(TransientError):
    """This writer's lease ran out and another writer may have taken over: stop writing."""


class Lease(Protocol):
    def renew(self) -> None:
        """Extend the lease (cheap to call often); raises ``IndexLeaseLostError`` when it was lost."""


class IndexLock(Protocol):
    def hold(self, collection: str) -> contextlib.AbstractContextManager[Lease]:
        """The writer's lease on ``collection`` for the ``with`` block; ``IndexBusyError`` when held."""


class _NoLease:
    def renew(self) -> None:
        return None


class LocalIndexLock:
    """The single-process twin: the CLI and the Action are the only writer of their index."""

    @contextlib.contextmanager
    def hold(self, collection: str) -> Iterator[Lease]:
        yield _NoLease()


class LockRedis(Protocol):
    def set(self, name: str, value: str, *, nx: bool = ..., px: int | None = ...) -> Any: ...

    def pttl(self, name: str) -> Any: ...

    def register_script(self, script: str) -> Any: ...


class _RedisLease:
    def __init__(
        self, owner: RedisIndexLock, key: str, token: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._owner, self._key, self._token, self._clock = owner, key, token, clock
        self._renewed = clock()

    def renew(self) -> None:
        now = self._clock()
        if now - self._renewed < self._owner.ttl_ms / 3000:
            return
        if not self._owner.renew_script(keys=[self._key], args=[self._token, self._owner.ttl_ms]):
            raise IndexLeaseLostError(
                f"the index-writer lease {self._key} ran out before this job finished: another writer may "
                "have taken over; this job stops and is retried"
            )
        self._renewed = now


class RedisIndexLock:
    """Per-collection writer leases in Redis (see the module docstring)."""

    def __init__(self, redis: LockRedis, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = redis
        self.ttl_ms = max(1000, int(ttl_seconds * 1000))
        self.release_script = redis.register_script(_RELEASE)
        self.renew_script = redis.register_script(_RENEW)
        self._clock = clock

    @staticmethod
    def key(collection: str) -> str:
        return KEY_PREFIX + collection

    @contextlib.contextmanager
    def hold(self, collection: str) -> Iterator[Lease]:
        key, token = self.key(collection), uuid.uuid4().hex
        if not self._redis.set(key, token, nx=True, px=self.ttl_ms):
            left_ms = self._redis.pttl(key)
            wait = min(MAX_RETRY_AFTER_S, max(1.0, (left_ms if isinstance(left_ms, int) and left_ms > 0 else 0) / 1000))
            log.info("index.busy collection=%s retry_after=%.0fs", collection, wait)
            raise IndexBusyError(f"another job is writing the index {collection}; retrying later", retry_after=wait)
        try:
            yield _RedisLease(self, key, token, self._clock)
        finally:
            self.release_script(keys=[key], args=[token])
