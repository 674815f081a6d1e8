"""Putting an accepted delivery's jobs on the queue: the one thing the webhook process does with work.

``DeliveryQueue`` is the port the receiver awaits: ``accept(delivery, jobs)`` records the delivery
id (GitHub re-sends a delivery with the same ``X-GitHub-Delivery``) and queues its jobs; it returns
False, queueing nothing, for a delivery already seen, and raises ``TransientError`` when Redis
cannot be reached (the receiver answers 503 and GitHub redelivers).

* ``RedisDeliveryQueue``, the production one: one Redis round trip per delivery, a Lua script that
  runs ``SET doppel:delivery:<id> <token> EX <ttl> NX`` and, only when that wins, ``LPUSH``es each
  job's Celery message (``messages.TaskMessages``) onto its queue's list. Redis runs a script
  whole, so a delivery is never recorded without its jobs or queued twice, and the answer comes
  only once the jobs are in Redis. Async (``redis.asyncio``, no thread hop), and the scripts of
  concurrent deliveries share pipelined round trips.
* ``EnqueuerDeliveryQueue``: a ``DeliveryLog`` plus a job-at-a-time ``Enqueuer`` in a worker thread.
  ``CeleryEnqueuer`` goes through ``send_task`` (three round trips per job, about 1.3 ms of CPU);
  tests and the end-to-end harness inject their own enqueuers this way, and the benchmark uses it
  as the reference.

Rate limits (``Job.limits``, the ``/similar`` commands' per-user and per-PR counters) are counted
by both, once per delivery and only for a delivery seen for the first time: each counter is a
fixed window (``INCR``, and ``EXPIRE`` when it was new). When one is over its limit the delivery is
recorded but its jobs are not queued, and a log line (``webhook.rate_limited``) says which
counter; the answer is the same as for a queued delivery, so GitHub does not redeliver it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import NoScriptError

from bot.dedup import KEY_PREFIX, DeliveryLog
from bot.webhooks.dispatch import Job, RateLimit
from bot.webhooks.messages import TaskMessages
from core.errors import TransientError
from workers.tasks import names

if TYPE_CHECKING:
    from celery import Celery
    from redis.asyncio import Redis as AsyncRedis

log = logging.getLogger(__name__)


class DeliveryQueue(Protocol):
    async def accept(self, delivery: str, jobs: Sequence[Job]) -> bool: ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class Enqueuer(Protocol):
    def enqueue(self, job: Job) -> None: ...


# KEYS[1]: the delivery's key; KEYS[2..q+1]: the queue list of each job; KEYS[q+2..]: the rate
# limit counters (L of them). ARGV[1]: the key's TTL in seconds; ARGV[2]: a token unique to this
# attempt, stored as the key's value, so that a client retrying the script after a lost reply is
# told 1 (queued by its own first try) rather than 0; ARGV[3..q+2]: the messages; then a limit
# and a window in seconds per counter. So #ARGV - #KEYS - 1 is L. Returns 1 (queued), 0 (seen
# before) or {2, i} (recorded, nothing queued: counter i is over its limit). A counter over its
# limit stops the count there (the PR's counter after a spent user's is left alone). A push that fails (a key of another type) takes back the pushes before it and the
# delivery key, so that a redelivery finds nothing half done.
ACCEPT_SCRIPT = """
if not redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1], 'NX') then
  if redis.call('GET', KEYS[1]) == ARGV[2] then
    return 1
  end
  return 0
end
local limits = #ARGV - #KEYS - 1
local queues = #KEYS - 1 - limits
for i = 1, limits do
  local key = KEYS[1 + queues + i]
  local count = redis.pcall('INCR', key)
  if type(count) == 'table' and count.err then
    redis.call('DEL', KEYS[1])
    return count
  end
  if count == 1 then
    redis.call('EXPIRE', key, ARGV[2 + queues + 2 * i])
  end
  if count > tonumber(ARGV[1 + queues + 2 * i]) then
    return {2, i}
  end
end
for i = 2, queues + 1 do
  local pushed = redis.pcall('LPUSH', KEYS[i], ARGV[i + 1])
  if type(pushed) == 'table' and pushed.err then
    for j = 2, i - 1 do
      redis.call('LREM', KEYS[j], 1, ARGV[j + 1])
    end
    redis.call('DEL', KEYS[1])
    return pushed
  end
end
return 1
"""

# The same counting for the job-at-a-time queue. KEYS: the counters; ARGV: a limit and a window
# per counter. Returns 0 when every counter is within its limit, else the (1-based) number of the
# first one over it; the counters after it are not counted.
LIMIT_SCRIPT = """
for i = 1, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i])
  end
  if count > tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
return 0
"""


def delivery_limits(jobs: Sequence[Job]) -> list[RateLimit]:
    """The rate limits a delivery's jobs count against, each counter once, in order."""
    seen: dict[str, RateLimit] = {}
    for job in jobs:
        for limit in job.limits:
            seen.setdefault(limit.key, limit)
    return list(seen.values())


class RateLimiter:
    """Fixed-window counters on a synchronous Redis client, one round trip per check."""

    def __init__(self, redis: Any) -> None:
        self._script = redis.register_script(LIMIT_SCRIPT)

    @classmethod
    def on(cls, redis: Any) -> RateLimiter | None:
        """A limiter on ``redis``, or ``None`` for a client that cannot run scripts (an in-memory
        test double): every ``redis.Redis`` can."""
        if not callable(getattr(redis, "register_script", None)):
            log.warning("webhook.rate_limits_off: the Redis client %s runs no scripts", type(redis).__name__)
            return None
        return cls(redis)

    def spent(self, limits: Sequence[RateLimit]) -> RateLimit | None:
        """Count one use of each of ``limits``; the first one over its limit, else ``None``."""
        if not limits:
            return None
        args = [value for limit in limits for value in (limit.limit, limit.window_seconds)]
        over = int(self._script(keys=[limit.key for limit in limits], args=args))
        return limits[over - 1] if over else None


def _log_limited(delivery: str, limit: RateLimit) -> None:
    log.info(
        "webhook.rate_limited delivery=%s counter=%s limit=%d window=%ds: jobs dropped",
        delivery,
        limit.key,
        limit.limit,
        limit.window_seconds,
    )


@dataclass
class _Call:
    keys: list[Any]
    args: list[Any]
    done: asyncio.Future[Any]


class RedisDeliveryQueue:
    """De-duplicate and queue in one atomic Redis script (see the module docstring).

    Concurrent deliveries share round trips: while one pipeline of scripts is in flight, the
    scripts of deliveries that arrive meanwhile wait and go out together in the next one (group
    commit). A delivery alone goes out at once; each is answered only after its own script's
    reply, so batching changes the cost of a burst, not what an answer means.
    """

    script = ACCEPT_SCRIPT

    def __init__(
        self,
        redis: AsyncRedis,
        messages: TaskMessages,
        ttl_seconds: int,
        *,
        prefix: str = KEY_PREFIX,
        max_batch: int = 256,
    ) -> None:
        self._redis = redis
        self._messages = messages
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._max_batch = max_batch
        self._sha = hashlib.sha1(self.script.encode()).hexdigest()
        self._pending: list[_Call] = []
        self._sending = False
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, app: Celery, ttl_seconds: int, *, max_connections: int = 8) -> RedisDeliveryQueue:
        """A queue on its own small pool (one connection carries the batches; the others serve
        ``ping``), which waits for a free connection rather than opening more. A command is tried
        twice at most (a connection that went stale) within 2 s each, so that an answer, if only
        a 503, reaches GitHub well within its 10 s; retrying is safe thanks to the script's token."""
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=2,
            socket_timeout=2,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 1),
        )
        messages = TaskMessages(app)
        for task in names.ROUTES:  # refuse a routing it cannot serve now, not at the first delivery
            messages.route(task)
        return cls(Redis(connection_pool=pool), messages, ttl_seconds)

    async def accept(self, delivery: str, jobs: Sequence[Job]) -> bool:
        built = [self._messages.build(job.task, job.kwargs) for job in jobs]
        limits = delivery_limits(jobs)
        keys: list[Any] = [self._prefix + delivery, *(m.queue for m in built), *(lim.key for lim in limits)]
        args: list[Any] = [self._ttl, uuid.uuid4().hex, *(m.payload for m in built)]
        args += [value for lim in limits for value in (lim.limit, lim.window_seconds)]
        call = _Call(keys, args, asyncio.get_running_loop().create_future())
        self._pending.append(call)
        if not self._sending:
            # Nobody is talking to Redis: send now, from this request, and hand what piles up
            # meanwhile to a background sender once this request's own reply is in.
            self._sending = True
            try:
                while self._pending and not call.done.done():
                    await self._send_batch()
            finally:
                if self._pending:
                    self._sender = asyncio.create_task(self._drain())
                else:
                    self._sending = False
        try:
            fresh = await call.done
        except Exception as exc:  # redis.RedisError and socket errors alike
            raise TransientError(
                f"Redis refused or did not answer the enqueue ({type(exc).__name__}: {exc}); redeliver later"
            ) from exc
        if isinstance(fresh, list):  # [2, i]: recorded, and counter i was over its limit
            _log_limited(delivery, limits[int(fresh[1]) - 1])
            return True
        return bool(fresh)

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._send_batch()
        finally:
            self._sending = False
            self._fail(self._pending, ConnectionError("the enqueue was cancelled before it was sent"))
            self._pending = []

    async def _send_batch(self) -> None:
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        try:
            results = await self._run(batch)
        except BaseException as exc:
            # Whatever stopped the round trip (a broken connection, a cancelled sender), every
            # request in the batch gets an answer: an error, so that GitHub redelivers; the
            # script makes that redelivery safe whether or not this one reached Redis.
            self._fail(batch, exc if isinstance(exc, Exception) else ConnectionError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for call, result in zip(batch, results, strict=True):
            if call.done.done():  # the request went away; its script ran all the same
                continue
            if isinstance(result, Exception):
                call.done.set_exception(result)
            else:
                call.done.set_result(result)

    @staticmethod
    def _fail(calls: list[_Call], exc: Exception) -> None:
        for call in calls:
            if not call.done.done():
                call.done.set_exception(exc)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        """Each call's reply or error; loads the script once when Redis does not know it (a
        restart or SCRIPT FLUSH) and runs the calls that it refused again."""
        results = await self._pipeline(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self._redis.script_load(self.script)
            for i, result in zip(missing, await self._pipeline([batch[i] for i in missing]), strict=True):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.evalsha(self._sha, len(call.keys), *call.keys, *call.args)
            return list(await pipe.execute(raise_on_error=False))

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except Exception as exc:
            raise TransientError(f"Redis did not answer PING ({type(exc).__name__}: {exc})") from exc

    async def aclose(self) -> None:
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        await self._redis.aclose()


class EnqueuerDeliveryQueue:
    """A ``DeliveryLog`` and a job-at-a-time ``Enqueuer``, run in a worker thread (blocking I/O)."""

    def __init__(
        self,
        deliveries: DeliveryLog,
        enqueuer: Enqueuer,
        ping: Callable[[], object],
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._deliveries = deliveries
        self._enqueuer = enqueuer
        self._ping = ping
        self._limiter = limiter

    async def accept(self, delivery: str, jobs: Sequence[Job]) -> bool:
        return await asyncio.to_thread(self._accept, delivery, jobs)

    def _accept(self, delivery: str, jobs: Sequence[Job]) -> bool:
        try:
            if not self._deliveries.first_seen(delivery):
                return False
        except Exception as exc:  # the dedup log lives in Redis with the queue: both are down
            raise TransientError(f"Redis is unreachable ({type(exc).__name__}: {exc}); redeliver later") from exc
        limits = delivery_limits(jobs)
        if limits and self._limiter is not None:
            try:
                spent = self._limiter.spent(limits)
            except Exception as exc:
                self._forget(delivery)
                raise TransientError(f"Redis is unreachable ({type(exc).__name__}: {exc}); redeliver later") from exc
            if spent is not None:
                _log_limited(delivery, spent)
                return True
        try:
            for job in jobs:
                self._enqueuer.enqueue(job)
        except Exception as exc:
            # Forget the delivery so that GitHub's redelivery is not dropped as a repeat. A job
            # enqueued before the failure may then run twice: every task is idempotent.
            self._forget(delivery)
            raise TransientError(
                f"the task queue is unreachable ({type(exc).__name__}: {exc}); redeliver later"
            ) from exc
        return True

    def _forget(self, delivery: str) -> None:
        try:
            self._deliveries.forget(delivery)
        except Exception as exc:  # best effort: the key expires with its TTL anyway
            log.warning("webhook.forget_failed delivery=%s: %s", delivery, exc)

    async def ping(self) -> None:
        try:
            await asyncio.to_thread(self._ping)
        except Exception as exc:
            raise TransientError(f"Redis did not answer PING ({type(exc).__name__}: {exc})") from exc

    async def aclose(self) -> None:
        return None


class CeleryEnqueuer:
    """Sends jobs with ``send_task`` so that routing (``task_routes``) picks the queue."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue(self, job: Job) -> None:
        self._app.send_task(job.task, kwargs=job.kwargs)


class RecordingEnqueuer:
    """Keeps every job in ``jobs``; ``fail`` makes the next enqueue raise (queue down)."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.fail: Exception | None = None

    def enqueue(self, job: Job) -> None:
        if self.fail is not None:
            raise self.fail
        self.jobs.append(job)
