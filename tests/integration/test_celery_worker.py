"""The queue end to end with real parts: Redis DB 15, a real Celery worker process running the
real tasks (wired to Redis-backed fakes through DOPPEL_WORKER_RUNTIME), and the real receiver."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from core.domain import RepoRef
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
from workers.services.coalesce import PullCoalescer, PullKey
from workers.tasks import names
from workers.services.repo_registry import RepoRegistry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPO = "octo/widgets"


def _heads(n: int) -> list[str]:
    return [f"{i:x}" * 40 for i in range(1, n + 1)]


# --- the coalescer and registry on real Redis ---------------------------------------------


def test_coalescer_one_running_one_pending(real_redis: Any) -> None:
    gate = PullCoalescer(real_redis, lock_seconds=60)
    pull = PullKey(REPO, 1)
    h1, h2, h3 = _heads(3)
    assert gate.start(pull, "t1", h1)
    assert not gate.start(pull, "t2", h2)
    assert not gate.start(pull, "t3", h3)  # overwrites h2: only the newest waits
    assert gate.start(pull, "t1", h1)  # a redelivered task takes its own lock back
    assert gate.finish(pull, "t2") is None  # not the holder: nothing released
    assert gate.finish(pull, "t1") == h3
    assert gate.finish(pull, "t1") is None
    assert gate.start(pull, "t4", h3) and gate.finish(pull, "t4") is None


def test_coalescer_lock_expires(real_redis: Any) -> None:
    gate = PullCoalescer(real_redis, lock_seconds=60)
    pull = PullKey(REPO, 2)
    gate.start(pull, "t1", "a" * 40)
    assert 0 < real_redis.ttl(pull.key("running")) <= 60


def test_registry_round_trip(real_redis: Any) -> None:
    registry = RepoRegistry(real_redis)
    a, b = RepoRef("o/a", 1), RepoRef("o/b", None)
    registry.add(b)
    registry.add(a)
    registry.add(a)
    registry.ignore(a, 5)
    assert registry.repositories() == [b, a]
    assert registry.is_ignored(a, 5) and not registry.is_ignored(a, 6)
    registry.remove(a)
    assert registry.repositories() == [b] and not registry.is_ignored(a, 5)


# --- a real worker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[bytes]]:
    with fake_runtime_worker(
        tmp_path_factory.mktemp("worker"), name="test", concurrency=4, DOPPEL_TASK_MAX_RETRIES="3"
    ) as process:
        yield process


@pytest.fixture
def scene(worker: subprocess.Popen[bytes]) -> Iterator[redis_lib.Redis]:
    """The test DB with only the worker's queue bindings kept (flushing would drop them)."""
    client = redis_lib.Redis.from_url(TEST_REDIS_URL)
    for pattern in ("test:*", "doppel:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    yield client
    client.close()


def _events(client: redis_lib.Redis) -> list[str]:
    return [e.decode() for e in client.lrange("test:events", 0, -1)]


def _wait_event(client: redis_lib.Redis, event: str, timeout: float = 30) -> None:
    try:
        wait_until(lambda: event in _events(client), timeout)
    except AssertionError:
        raise AssertionError(f"no {event!r} in {_events(client)}") from None


def test_webhook_delivery_is_reviewed_and_posted_by_the_worker(scene: redis_lib.Redis) -> None:
    head = _heads(1)[0]
    scene.set(f"test:head:{REPO}#7", head)
    app = create_app(bot_settings(), redis=scene)  # the real Celery producer, DB 15
    body = encode(pull_request_payload("opened", number=7, head_sha=head, repo=REPO))
    with TestClient(app) as client:
        response = client.post(WEBHOOK_PATH, content=body, headers=delivery_headers("pull_request", body))
    assert response.status_code == 202
    _wait_event(scene, f"posted:{head}")
    assert _events(scene) == [f"review:{head}", f"posted:{head}"]


def test_a_burst_of_pushes_costs_one_more_review_of_the_newest_head(scene: redis_lib.Redis) -> None:
    producer = create_celery(bot_settings(), include_tasks=False)
    heads = _heads(5)
    scene.set("test:review_seconds", "1.5")

    def push(head: str) -> None:
        scene.set(f"test:head:{REPO}#8", head)
        producer.send_task(
            names.REVIEW_PULL_REQUEST,
            kwargs={"installation_id": 42, "repo": REPO, "pr_number": 8, "head_sha": head},
        )

    push(heads[0])
    _wait_event(scene, f"review:{heads[0]}")
    for head in heads[1:]:  # each waits for the running review and is folded into "pending"
        push(head)
        wait_until(lambda head=head: scene.get(PullKey(REPO, 8).key("pending")) == head.encode(), 30)
    _wait_event(scene, f"posted:{heads[-1]}")
    events = _events(scene)
    assert [e for e in events if e.startswith("review:")] == [f"review:{heads[0]}", f"review:{heads[-1]}"]
    # The first result was for a head that had moved on: never posted.
    assert [e for e in events if e.startswith("posted:")] == [f"posted:{heads[-1]}"]


def test_transient_errors_are_retried(scene: redis_lib.Redis) -> None:
    producer = create_celery(bot_settings(), include_tasks=False)
    head = _heads(6)[-1]
    scene.set(f"test:head:{REPO}#9", head)
    scene.set(f"test:fail_once:{head}", "1")
    producer.send_task(
        names.REVIEW_PULL_REQUEST, kwargs={"installation_id": 42, "repo": REPO, "pr_number": 9, "head_sha": head}
    )
    _wait_event(scene, f"posted:{head}")
    assert _events(scene) == [f"transient:{head}", f"review:{head}", f"posted:{head}"]


def test_installation_and_beat_tasks(scene: redis_lib.Redis) -> None:
    producer = create_celery(bot_settings(), include_tasks=False)
    producer.send_task(names.INDEX_REPOSITORY, kwargs={"installation_id": 3, "repo": "o/new"})
    _wait_event(scene, "index:o/new@None")
    scene.set("test:head:o/new#4", "4" * 40)
    producer.send_task(names.RECONCILE_OPEN_PULLS)  # o/new#4 has no review at its head yet
    _wait_event(scene, f"posted:{'4' * 40}")
    producer.send_task(names.NIGHTLY_RETRAIN)
    _wait_event(scene, "retrain:o/new")
    producer.send_task(names.DROP_REPOSITORY, kwargs={"installation_id": 3, "repo": "o/new"})
    _wait_event(scene, "drop:o/new")
    assert RepoRegistry(scene).repositories() == []


def test_commands_are_answered(scene: redis_lib.Redis) -> None:
    producer = create_celery(bot_settings(), include_tasks=False)
    scene.set(f"test:head:{REPO}#10", "a" * 40)
    common = {"installation_id": 42, "repo": REPO, "pr_number": 10}
    producer.send_task(
        names.SIMILAR_COMMAND, kwargs={**common, "comment_id": 1, "command": {"kind": "query", "query": "x"}}
    )
    _wait_event(scene, f"reply:1:similar query at {'a' * 40}")
    producer.send_task(names.REPLY_COMMAND, kwargs={**common, "comment_id": 2, "command": {"kind": "ignore"}})
    _wait_event(scene, "reply:2:doppel will not review this pull request again.")
    review = producer.send_task(names.REVIEW_PULL_REQUEST, kwargs={**common, "head_sha": "a" * 40})
    assert review.get(timeout=30) == "ignored"
    producer.send_task(names.REPLY_COMMAND, kwargs={**common, "comment_id": 3, "command": {"kind": "help"}})
    _wait_event(scene, "reply:3:`/similar` looks up code that resembles this change:")
    assert not any(e.startswith("review:") for e in _events(scene))
