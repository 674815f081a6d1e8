"""Per-pull-request coalescing of reviews in Redis: at most one running, at most one pending.

A burst of pushes to one pull request queues a review per push. The first to start takes the
PR's lock; each later one that finds the lock held records its head SHA as *the* pending head
(overwriting an older one) and returns at once. When the running review finishes it releases
the lock and hands back the pending head, which the caller queues as one new review. So ten
pushes during a review cost one more review, of the newest head.

The lock expires after ``lock_seconds`` so that a crashed worker does not block a PR for ever;
its token is the task id, so a task re-delivered after a crash takes its own lock back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# KEYS: running, pending. ARGV: token, head_sha, ttl. 1: started; 0: deferred (pending recorded).
_START = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
return 1
"""

# KEYS: running, pending. ARGV: token. Returns the pending head (or nil) when we held the lock.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
redis.call('DEL', KEYS[1])
local pending = redis.call('GET', KEYS[2])
if pending then
  redis.call('DEL', KEYS[2])
end
return pending
"""


class ScriptingRedis(Protocol):
    def register_script(self, script: str) -> Any: ...


@dataclass(frozen=True)
class PullKey:
    repo: str
    number: int

    def key(self, part: str) -> str:
        return f"doppel:pull:{self.repo}#{self.number}:{part}"


class PullCoalescer:
    """The one-running/one-pending gate, atomic through two Lua scripts."""

    def __init__(self, redis: ScriptingRedis, *, lock_seconds: int) -> None:
        self._start = redis.register_script(_START)
        self._finish = redis.register_script(_FINISH)
        self._ttl = lock_seconds

    def start(self, pull: PullKey, token: str, head_sha: str) -> bool:
        """Take the PR's lock for ``token`` (True), or record ``head_sha`` as pending (False)."""
        keys = [pull.key("running"), pull.key("pending")]
        return bool(self._start(keys=keys, args=[token, head_sha, self._ttl]))

    def finish(self, pull: PullKey, token: str) -> str | None:
        """Release the lock held by ``token`` and return the pending head to review next, if any."""
        pending = self._finish(keys=[pull.key("running"), pull.key("pending")], args=[token])
        if pending is None:
            return None
        return pending.decode() if isinstance(pending, bytes) else str(pending)
