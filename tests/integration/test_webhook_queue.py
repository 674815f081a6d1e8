"""The receiver's fast queue path on real parts: Redis DB 15, Celery's own ``send_task`` for
comparison, and a real Celery worker that must run what the fast path queued."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from bot.dedup import KEY_PREFIX
from bot.webhooks.dispatch import Job
from bot.webhooks.enqueue import ACCEPT_SCRIPT, RedisDeliveryQueue
from bot.webhooks.messages import TaskMessages
from core.errors import TransientError
from tests.conftest_bot import (
    TEST_REDIS_URL,
    bot_settings,
    delivery_headers,
    encode,
    fake_runtime_worker,
    pull_request_payload,
    wait_until,
)
from tests.conftest_bot import real_redis as real_redis  # noqa: F401 - fixture
from workers.celery_app import create_celery
from workers.tasks import names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPO = "octo/queue"
TTL = 600


def _review(number: int, head: str = "a" * 40) -> Job:
    return Job(names.REVIEW_PULL_REQUEST, {"installation_id": 42, "repo": REPO, "pr_number": number, "head_sha": head})


def _reply(comment_id: int) -> Job:
    return Job(
        names.REPLY_COMMAND,
        {"installation_id": 42, "repo": REPO, "pr_number": 1, "comment_id": comment_id, "command": {"kind": "help"}},
    )


def _queued(client: redis_lib.Redis, queue: str) -> list[dict[str, Any]]:
    """The kwargs of the messages waiting on ``queue``, oldest first."""
    out = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        _, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
        out.append(kwargs)
    return out


def _run_with_queue(
    test: Callable[[RedisDeliveryQueue], Any], queue_type: type[RedisDeliveryQueue] = RedisDeliveryQueue
) -> Any:
    async def main() -> Any:
        queue = queue_type.from_url(TEST_REDIS_URL, create_celery(bot_settings(), include_tasks=False), TTL)
        try:
            return await test(queue)
        finally:
            await queue.aclose()

    return asyncio.run(main())


# --- the message is Celery's own --------------------------------------------------------------


@pytest.mark.parametrize("job", [_review(7), _reply(991), Job("not.a.doppel.task", {"x": 1})], ids=lambda j: j.task)
def test_message_is_byte_for_byte_what_send_task_pushes(real_redis: redis_lib.Redis, job: Job) -> None:
    app = create_celery(bot_settings(), include_tasks=False)
    task_id = str(uuid.uuid4())
    app.send_task(job.task, kwargs=job.kwargs, task_id=task_id)
    lists = [key for key in real_redis.keys("*") if real_redis.type(key) == b"list"]
    assert len(lists) == 1
    theirs = json.loads(real_redis.lpop(lists[0]))

    ours = TaskMessages(app).build(job.task, job.kwargs, task_id=task_id)
    assert ours.queue == lists[0].decode() == names.ROUTES.get(job.task, names.QUEUE_IO)
    mine = json.loads(ours.payload)
    # The delivery tag is a fresh uuid for every publish; everything else must match.
    assert mine["properties"].pop("delivery_tag") != theirs["properties"].pop("delivery_tag")
    assert mine == theirs


# --- de-duplication and queueing in one script ------------------------------------------------


def test_accept_queues_once_and_drops_repeats(real_redis: redis_lib.Redis) -> None:
    async def scenario(queue: RedisDeliveryQueue) -> list[bool]:
        return [await queue.accept("d-1", [_review(1)]), await queue.accept("d-1", [_review(1)])]

    assert _run_with_queue(scenario) == [True, False]
    assert _queued(real_redis, names.QUEUE_GPU) == [_review(1).kwargs]
    assert 0 < real_redis.ttl(KEY_PREFIX + "d-1") <= TTL


def test_concurrent_deliveries_each_become_exactly_one_task(real_redis: redis_lib.Redis) -> None:
    """300 concurrent calls, each of 100 deliveries three times: batched round trips must still
    queue each delivery's jobs once and answer True exactly once per delivery."""

    async def scenario(queue: RedisDeliveryQueue) -> list[bool]:
        calls = [queue.accept(f"d-{n}", [_review(n), _reply(n)]) for _ in range(3) for n in range(100)]
        return list(await asyncio.gather(*calls))

    answers = _run_with_queue(scenario)
    assert answers.count(True) == 100
    assert sorted(kw["pr_number"] for kw in _queued(real_redis, names.QUEUE_GPU)) == list(range(100))
    assert sorted(kw["comment_id"] for kw in _queued(real_redis, names.QUEUE_IO)) == list(range(100))


def test_a_push_that_fails_takes_back_the_whole_delivery(real_redis: redis_lib.Redis) -> None:
    real_redis.set(names.QUEUE_GPU, "not a list")  # the second job's push fails: WRONGTYPE

    async def failing(queue: RedisDeliveryQueue) -> None:
        with pytest.raises(TransientError, match="WRONGTYPE"):
            await queue.accept("d-2", [_reply(5), _review(5)])

    _run_with_queue(failing)
    assert real_redis.llen(names.QUEUE_IO) == 0
    assert not real_redis.exists(KEY_PREFIX + "d-2")

    real_redis.delete(names.QUEUE_GPU)

    async def redelivered(queue: RedisDeliveryQueue) -> bool:
        return await queue.accept("d-2", [_reply(5), _review(5)])

    assert _run_with_queue(redelivered) is True
    assert _queued(real_redis, names.QUEUE_IO) == [_reply(5).kwargs]
    assert _queued(real_redis, names.QUEUE_GPU) == [_review(5).kwargs]


def test_a_retried_script_is_told_it_queued_the_delivery(real_redis: redis_lib.Redis) -> None:
    """A client that resends the script after a lost reply must hear 1, not "duplicate"."""
    client = redis_lib.Redis.from_url(TEST_REDIS_URL)
    args: list[str | int | bytes] = ["doppel:delivery:d-3", names.QUEUE_GPU, TTL, "token-1", b"message"]
    assert client.eval(ACCEPT_SCRIPT, 2, *args) == 1
    assert client.eval(ACCEPT_SCRIPT, 2, *args) == 1
    assert client.eval(ACCEPT_SCRIPT, 2, *args[:3], "token-2", b"message") == 0
    assert client.llen(names.QUEUE_GPU) == 1


class _UnseenScriptQueue(RedisDeliveryQueue):
    """The same script under a text (hence a SHA) Redis has never seen: the NOSCRIPT path."""

    script = ACCEPT_SCRIPT + f"\n-- {uuid.uuid4()}\n"


def test_a_script_unknown_to_redis_is_loaded_and_run(real_redis: redis_lib.Redis) -> None:
    async def scenario(queue: RedisDeliveryQueue) -> list[bool]:
        return list(await asyncio.gather(*(queue.accept(f"d-{n}", [_review(n)]) for n in range(5))))

    assert _run_with_queue(scenario, _UnseenScriptQueue) == [True] * 5
    assert real_redis.llen(names.QUEUE_GPU) == 5


def test_unreachable_redis_is_transient() -> None:
    async def scenario() -> None:
        app = create_celery(bot_settings(), include_tasks=False)
        queue = RedisDeliveryQueue.from_url("redis://127.0.0.1:1/0", app, TTL)
        try:
            with pytest.raises(TransientError):
                await queue.accept("d-4", [_review(4)])
            with pytest.raises(TransientError):
                await queue.ping()
        finally:
            await queue.aclose()

    asyncio.run(scenario())


# --- a real worker runs what the fast path queued -------------------------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Celery worker on DB 15 running the real tasks over Redis-backed fakes
    (``tests.conftest_bot.build_fake_runtime``)."""
    with fake_runtime_worker(tmp_path_factory.mktemp("worker"), name="queue-test", concurrency=2):
        yield


def test_a_delivery_queued_by_the_fast_path_is_run_by_a_real_worker(worker: None) -> None:
    scene = redis_lib.Redis.from_url(TEST_REDIS_URL)
    head = "f" * 40
    scene.set(f"test:head:{REPO}#12", head)
    app = create_app(bot_settings())  # neither enqueuer nor redis: the production fast path
    body = encode(pull_request_payload("opened", number=12, head_sha=head, repo=REPO))
    headers = delivery_headers("pull_request", body)
    with TestClient(app) as client:
        first = client.post(WEBHOOK_PATH, content=body, headers=headers)
        repeat = client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert (first.status_code, repeat.status_code) == (202, 200)
    events = lambda: [e.decode() for e in scene.lrange("test:events", 0, -1)]  # noqa: E731
    try:
        wait_until(lambda: f"posted:{head}" in events(), 30)
    except AssertionError:
        raise AssertionError(f"the worker did not post the review; events: {events()}") from None
    assert events() == [f"review:{head}", f"posted:{head}"]
