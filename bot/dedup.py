"""Drop repeated webhook deliveries by their ``X-GitHub-Delivery`` id (Redis ``SET NX`` with a TTL).

GitHub re-sends a delivery on timeouts and on manual "Redeliver"; each carries the same id.
The first ``SET NX`` wins, and the key expires after the TTL so that the set stays small.
The receiver's default queue (``bot.webhooks.enqueue.RedisDeliveryQueue``) runs the same
``SET NX`` on the same keys inside its enqueue script; ``DeliveryLog`` serves the job-at-a-time path.
"""

from __future__ import annotations

import re
from typing import Protocol

KEY_PREFIX = "doppel:delivery:"
# GitHub sends a UUID; other well-behaved senders may not, so only bound length and charset.
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RedisLike(Protocol):
    """The two Redis commands this module uses (``redis.Redis`` satisfies it)."""

    def set(self, name: str, value: str, *, ex: int | None = None, nx: bool = False) -> object: ...

    def delete(self, *names: str) -> object: ...


def valid_delivery_id(delivery_id: str | None) -> bool:
    return bool(delivery_id) and bool(_DELIVERY_ID.match(delivery_id or ""))


class DeliveryLog:
    """Remembers delivery ids for ``ttl_seconds``."""

    def __init__(self, redis: RedisLike, ttl_seconds: int, *, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._prefix = prefix

    def first_seen(self, delivery_id: str) -> bool:
        """Record ``delivery_id``; True the first time, False for a repeat within the TTL."""
        return bool(self._redis.set(self._prefix + delivery_id, "1", ex=self._ttl, nx=True))

    def forget(self, delivery_id: str) -> None:
        """Undo ``first_seen`` (enqueueing failed), so that a redelivery is processed."""
        self._redis.delete(self._prefix + delivery_id)
