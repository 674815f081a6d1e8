"""Helpers for the bot's tests: an in-memory Redis fake, signed deliveries, a real-Redis fixture.

Not a conftest (the suite's conftest belongs to the lead): import what you need from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.webhooks.signature import sign
from core.settings import Settings

SECRET = "it-is-a-long-test-secret-0123456789"
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"  # a DB of its own: tests flush only this one
ROOT = Path(__file__).resolve().parents[1]


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` every 50 ms; ``AssertionError`` when it is still false after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)


@contextmanager
def fake_runtime_worker(log_dir: Path, *, name: str, concurrency: int, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on DB 15 (``TEST_REDIS_URL``) running the real tasks over the
    Redis-backed fakes of ``build_fake_runtime``; skips the test when Redis is not reachable.
    The DB is flushed before the worker starts and after it stops."""
    import redis as redis_lib

    client = redis_lib.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        pytest.skip(f"Redis at {TEST_REDIS_URL} is not reachable ({exc})")
    client.flushdb()
    log = log_dir / "worker.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    child_env.update(
        DOPPEL_REDIS_URL=TEST_REDIS_URL,
        DOPPEL_WORKER_RUNTIME="tests.conftest_bot:build_fake_runtime",
        PYTHONPATH=str(ROOT),
        **env,
    )
    command = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool=threads",
        f"--concurrency={concurrency}", "-Q", "gpu,io", "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"ready." in log.read_bytes() or process.poll() is not None, 60)
        if process.poll() is not None:
            pytest.fail("the worker exited at start:\n" + log.read_text()[-3000:])
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        client.flushdb()


class FakeRedis:
    """The few Redis commands the receiver uses, in memory; expiry is recorded, not enforced."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.ttls: dict[str, int | None] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("fake redis is down")

    def set(self, name: str, value: str, *, ex: int | None = None, nx: bool = False) -> bool | None:
        self._check()
        if nx and name in self.values:
            return None
        self.values[name], self.ttls[name] = value, ex
        return True

    def delete(self, *names: str) -> int:
        self._check()
        removed = [n for n in names if self.values.pop(n, None) is not None]
        return len(removed)

    def ping(self) -> bool:
        self._check()
        return True


def bot_settings(**overrides: Any) -> Settings:
    """Settings for tests: the test secret, the test Redis DB, no .env file."""
    values: dict[str, Any] = {"github_webhook_secret": SECRET, "redis_url": TEST_REDIS_URL}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def delivery_headers(event: str, body: bytes, *, secret: str = SECRET, delivery: str | None = None) -> dict[str, str]:
    """Headers GitHub would send with ``body``."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret.encode(), body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def pull_request_payload(
    action: str = "opened",
    *,
    number: int = 7,
    head_sha: str = "a" * 40,
    draft: bool = False,
    sender: str = "octocat",
    installation_id: int | None = 42,
    repo: str = "octo/widgets",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "draft": draft,
            "head": {"sha": head_sha, "ref": "feature"},
            "base": {"sha": "b" * 40, "ref": "main"},
        },
        "repository": {"full_name": repo, "default_branch": "main"},
        "sender": {"login": sender, "type": "User"},
    }
    if installation_id is not None:
        payload["installation"] = {"id": installation_id}
    return payload


def comment_payload(
    body: str,
    *,
    event: str = "issue_comment",
    author: str = "octocat",
    on_pull_request: bool = True,
    path: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    comment: dict[str, Any] = {"id": 991, "body": body, "user": {"login": author}}
    payload: dict[str, Any] = {
        "action": "created",
        "comment": comment,
        "repository": {"full_name": "octo/widgets", "default_branch": "main"},
        "installation": {"id": 42},
        "sender": {"login": author},
    }
    if event == "issue_comment":
        issue: dict[str, Any] = {"number": 7}
        if on_pull_request:
            issue["pull_request"] = {"url": "https://api.github.com/repos/octo/widgets/pulls/7"}
        payload["issue"] = issue
    else:
        comment.update({"path": path, "line": line, "commit_id": "c" * 40})
        payload["pull_request"] = {"number": 7, "head": {"sha": "c" * 40}, "base": {"sha": "b" * 40, "ref": "main"}}
    return payload


@pytest.fixture
def real_redis() -> Iterator[Any]:
    """A client on the test Redis DB (15), flushed before and after; skips when Redis is down."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {TEST_REDIS_URL} is not reachable ({exc}); start redis-server to run this test")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# --- a worker runtime wired to fakes (DOPPEL_WORKER_RUNTIME=tests.conftest_bot:build_fake_runtime) ---
#
# It runs inside a real Celery worker process; everything it sees and does goes through Redis
# DB 15 so that the test process can set the scene and read back what happened:
#   test:head:<repo>#<n>      the PR's current head (the fake GitHub's answer)
#   test:review_seconds       how long a fake review takes
#   test:fail_once:<head>     present: the next review of <head> raises TransientError
#   test:events               list of "<what>:<detail>" strings, in order


class _FakePull:
    def __init__(self, number: int, head_sha: str) -> None:
        self.number, self.head_sha = number, head_sha
        self.state, self.draft, self.base_sha = "open", False, "b" * 40


class _FakeGitHub:
    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def _event(self, text: str) -> None:
        self.redis.rpush("test:events", text)

    def pull(self, repo: str, number: int) -> _FakePull:
        head = self.redis.get(f"test:head:{repo}#{number}")
        return _FakePull(number, head.decode() if head else "0" * 40)

    def open_pulls(self, repo: str) -> list[_FakePull]:
        keys = sorted(k.decode() for k in self.redis.keys(f"test:head:{repo}#*"))
        return [self.pull(repo, int(k.rsplit("#", 1)[1])) for k in keys]

    def has_review(self, repo: str, number: int, head_sha: str) -> bool:
        return bool(self.redis.sismember("test:reviewed", f"{repo}#{number}@{head_sha}"))

    def publish_review(self, repo: str, number: int, result: Any) -> None:
        self.redis.sadd("test:reviewed", f"{repo}#{number}@{result['head']}")
        self._event(f"posted:{result['head']}")

    def is_review_comment(self, repo: str, number: int, comment_id: int) -> bool:
        return False

    def react(self, repo: str, comment_id: int, content: str, *, review_comment: bool) -> None:
        self._event(f"react:{comment_id}:{content}")

    def reply(self, repo: str, number: int, comment_id: int, body: str, *, review_comment: bool) -> None:
        self._event(f"reply:{comment_id}:{body.splitlines()[0]}")


class FakeRuntime:
    """The ``Runtime`` ports over Redis-backed fakes (see the comment above)."""

    def __init__(self, settings: Settings) -> None:
        import redis

        from workers.services.coalesce import PullCoalescer
        from workers.services.repo_registry import RepoRegistry

        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.coalescer = PullCoalescer(self.redis, lock_seconds=settings.review_lock_seconds)
        self.registry = RepoRegistry(self.redis)
        self._github = _FakeGitHub(self.redis)
        from workers.celery_app import create_celery

        self._producer = create_celery(settings, include_tasks=False)

    def github(self, installation_id: int | None) -> _FakeGitHub:
        return self._github

    def plan(self, repo: Any) -> Any:
        from workers.services.plan import resolve_plan

        return resolve_plan(self.settings)

    def review(self, repo: Any, *, pr_number: int, base: str, head: str, plan: Any) -> dict[str, Any]:
        import time

        from core.errors import TransientError

        if self.redis.delete(f"test:fail_once:{head}"):
            self._github._event(f"transient:{head}")
            raise TransientError("fake GitHub is rate limited", retry_after=0.2)
        self._github._event(f"review:{head}")
        time.sleep(float(self.redis.get("test:review_seconds") or 0))
        return {"repo": repo.slug, "base": base, "head": head}

    def similar(self, repo: Any, *, pr_number: int, head: str, base: str, command: Any, plan: Any) -> str:
        return f"similar {command.kind.value} at {head}"

    def index(self, repo: Any, *, commit: str | None) -> dict[str, Any]:
        self._github._event(f"index:{repo.slug}@{commit}")
        return {"commit": commit}

    def drop(self, repo: Any) -> None:
        self._github._event(f"drop:{repo.slug}")

    def retrain(self, repo: Any) -> dict[str, Any]:
        self._github._event(f"retrain:{repo.slug}")
        return {"repo": repo.slug}

    def enqueue(self, job: Any) -> None:
        self._producer.send_task(job.task, kwargs=job.to_kwargs())


def build_fake_runtime(settings: Settings) -> FakeRuntime:
    return FakeRuntime(settings)
