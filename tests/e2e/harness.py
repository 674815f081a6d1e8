"""The bot end to end, with its production wiring: every part real except GitHub itself.

Used by the end-to-end tests (``conftest.world``) and the latency benchmark
(``benchmarks/bench_review_latency.py``). ``open_world`` starts:

* Redis at 127.0.0.1:6379, database ``E2E_DB`` (flushed before and after; nothing else touched);
* the webhook receiver (``bot.app.create_app``) with its Celery producer on that Redis;
* real Celery worker processes (``celery -A tests.e2e.worker_app worker --pool=solo``) running the
  production runtime: installation tokens from the fake GitHub App, clones through ``RepoCache``,
  the MiniLM encoder on the CPU and an embedded Qdrant Edge index under a temporary data dir;
* the fake GitHub REST server on loopback (App mode, with a freshly generated RSA key);
* bare git repositories standing in for GitHub's git side: ``<web>/<owner>/<name>.git`` with
  ``refs/pull/<n>/head`` as GitHub keeps them, where ``<web>`` is a ``file://`` URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery.result import AsyncResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from git import Repo

from bot.app import WEBHOOK_PATH, create_app
from bot.webhooks.dispatch import Job
from core.settings import Settings
from tests.conftest_bot import delivery_headers, encode
from tests.factories import commit, make_repo
from tests.fakes.github import FakeFile, FakeGitHub, FakeGitHubServer
from workers.celery_app import create_celery

ROOT = Path(__file__).resolve().parents[2]
E2E_DB = 13  # a Redis database of the e2e tests' own: only it is flushed
REDIS_URL = f"redis://127.0.0.1:6379/{E2E_DB}"
SECRET = "an-e2e-webhook-secret-0123456789abcdef"
APP_ID = 4242
BOT = "doppel[bot]"  # the fake App's slug is "doppel"
USER = "alice"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.1)


# --- git: the stand-in for GitHub's repositories -----------------------------------------------


class GitRemote:
    """A working repository (the developers' side) and its bare copy at ``<remotes>/<slug>.git``."""

    def __init__(self, root: Path, remotes: Path, slug: str, files: dict[str, str]) -> None:
        self.slug = slug
        self.work: Repo = make_repo(root, files, name=slug.replace("/", "__"))
        self.bare = remotes / f"{slug}.git"
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        Repo.clone_from(str(self.work.working_tree_dir), str(self.bare), bare=True)
        self.work.create_remote("github", str(self.bare))

    @property
    def main(self) -> str:
        return self.work.commit("main").hexsha

    def open_branch(self, number: int) -> None:
        self.work.git.checkout("-q", "-B", f"pr-{number}", "main")

    def push_pull(self, number: int, files: dict[str, str], message: str) -> str:
        """Commit ``files`` on the PR's branch and publish it as ``refs/pull/<n>/head``."""
        self.work.git.checkout("-q", f"pr-{number}")
        sha = commit(self.work, files, message)
        self.work.git.push("-q", "--force", "github", f"{sha}:refs/pull/{number}/head")
        return sha

    def pull_files(self, base: str, head: str) -> list[FakeFile]:
        """The PR's files as GitHub's ``GET /pulls/{n}/files`` lists them, patches included."""
        files = []
        for line in self.work.git.diff("--name-status", f"{base}...{head}").splitlines():
            status, path = line.split("\t")[0], line.split("\t")[-1]
            diff = self.work.git.diff("--no-color", "-U3", f"{base}...{head}", "--", path)
            patch = diff[diff.index("@@") :] if "@@" in diff else None
            kind = {"A": "added", "D": "removed", "M": "modified"}.get(status[0], "modified")
            files.append(FakeFile(path, patch, status=kind))
        return files


# --- webhooks ---------------------------------------------------------------------------------


class ResultKeepingEnqueuer:
    """The receiver's queue port over the real Celery producer, keeping each ``AsyncResult`` so
    that tests can wait for the very task a delivery queued."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_celery(settings, include_tasks=False)
        self.sent: list[tuple[Job, AsyncResult]] = []

    def enqueue(self, job: Job) -> None:
        self.sent.append((job, self.app.send_task(job.task, kwargs=job.kwargs)))


class Hooks:
    """Signed deliveries to the real receiver; returns the results of the tasks each one queued."""

    def __init__(self, client: TestClient, enqueuer: ResultKeepingEnqueuer) -> None:
        self.client, self.enqueuer = client, enqueuer

    def deliver(self, event: str, payload: dict[str, Any]) -> list[AsyncResult]:
        body = encode(payload)
        before = len(self.enqueuer.sent)
        response = self.client.post(
            WEBHOOK_PATH, content=body, headers=delivery_headers(event, body, secret=SECRET, delivery=str(uuid.uuid4()))
        )
        assert response.status_code == 202, response.text
        return [result for _, result in self.enqueuer.sent[before:]]


def _repository(slug: str) -> dict[str, Any]:
    return {"full_name": slug, "name": slug.split("/")[1], "default_branch": "main"}


def installation_payload(installation_id: int, slugs: list[str]) -> dict[str, Any]:
    return {
        "action": "created",
        "installation": {"id": installation_id},
        "repositories": [{"full_name": s, "name": s.split("/")[1]} for s in slugs],
        "sender": {"login": USER, "type": "User"},
    }


def pull_payload(action: str, installation_id: int, slug: str, number: int, head: str, base: str) -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "draft": False,
            "head": {"sha": head, "ref": f"pr-{number}"},
            "base": {"sha": base, "ref": "main"},
        },
        "repository": _repository(slug),
        "installation": {"id": installation_id},
        "sender": {"login": USER, "type": "User"},
    }


def issue_comment_payload(installation_id: int, slug: str, number: int, comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {"number": number, "pull_request": {"url": f"https://example.invalid/{slug}/pulls/{number}"}},
        "comment": {"id": comment["id"], "body": comment["body"], "user": {"login": comment["login"]}},
        "repository": _repository(slug),
        "installation": {"id": installation_id},
        "sender": {"login": comment["login"]},
    }


def review_comment_payload(installation_id: int, slug: str, number: int, comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": "created",
        "pull_request": {"number": number},
        "comment": {
            "id": comment["id"],
            "body": comment["body"],
            "user": {"login": comment["login"]},
            "path": comment["path"],
            "line": comment["line"],
            "commit_id": comment["commit_id"],
        },
        "repository": _repository(slug),
        "installation": {"id": installation_id},
        "sender": {"login": comment["login"]},
    }


# --- workers ----------------------------------------------------------------------------------


@dataclass
class Workers:
    """Starts real Celery worker processes (one at a time) with the production runtime: the
    ``solo`` pool by default, or ``threads`` with ``concurrency`` tasks side by side."""

    env: dict[str, str]
    logs: Path
    pool: str = "solo"
    concurrency: int = 1
    current: subprocess.Popen[bytes] | None = None
    started: list[Path] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.started)}.log"
        self.started.append(log)
        command = [
            sys.executable, "-m", "celery", "-A", "tests.e2e.worker_app", "worker",
            f"--pool={self.pool}", f"--concurrency={self.concurrency}", "-Q", "gpu,io", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"e2e-{os.getpid()}-{len(self.started)}@%h",
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.current = process
        wait_until(lambda: b"ready." in log.read_bytes() or process.poll() is not None, 90, "worker start")
        if process.poll() is not None:
            raise RuntimeError("the worker exited at start:\n" + self.log_tail())
        return process

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, so its unacknowledged task stays with the broker."""
        assert self.current is not None
        self.current.send_signal(signal.SIGKILL)
        self.current.wait(30)

    def stop(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.terminate()
            try:
                self.current.wait(30)
            except subprocess.TimeoutExpired:
                self.current.kill()
                self.current.wait(10)

    def log_tail(self, chars: int = 4000) -> str:
        return self.started[-1].read_text(errors="replace")[-chars:] if self.started else ""


# --- the world --------------------------------------------------------------------------------


@dataclass
class World:
    github: FakeGitHubServer
    hooks: Hooks
    workers: Workers
    root: Path
    remotes: dict[str, GitRemote] = field(default_factory=dict)
    installations: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> FakeGitHub:
        return self.github.state

    def add_repository(self, slug: str, installation_id: int, files: dict[str, str]) -> GitRemote:
        """A repository on the fake GitHub, installed for ``installation_id``, its code pushed."""
        remote = GitRemote(self.root / "work", self.root / "remotes", slug, files)
        self.remotes[slug], self.installations[slug] = remote, installation_id
        self.state.add_repo(slug, installation_id=installation_id, permissions={USER: "write"})
        return remote

    def result(self, async_result: AsyncResult, timeout: float = 120) -> Any:
        """The task's return value; on a timeout, the worker's log says why."""
        try:
            return async_result.get(timeout=timeout, propagate=True)
        except Exception as exc:
            raise AssertionError(f"task {async_result.id} failed or timed out ({exc!r}); worker log:\n"
                                 + self.workers.log_tail()) from exc  # fmt: skip


def redis_reachable(url: str) -> str | None:
    """``None`` when Redis answers at ``url``, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()
    return None


@contextlib.contextmanager
def open_world(
    root: Path,
    *,
    redis_url: str = REDIS_URL,
    data_dir: Path | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    worker_env: dict[str, str] | None = None,
    **settings: str,
) -> Iterator[World]:
    """Everything running, with ``root`` holding keys, remotes, clones and logs; ``settings`` are
    extra ``DOPPEL_*`` values for the worker (``duplicate_threshold="0.8"``), ``worker_env`` other
    variables for it (``E2E_*``), ``pool``/``concurrency`` its Celery pool. The Redis database of
    ``redis_url`` is flushed before and after."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    client.flushdb()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_path = root / "app-key.pem"
    pem_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    state = FakeGitHub(web_url=(root / "remotes").as_uri())
    state.configure_app(APP_ID, key.public_key())
    state.add_token("ghp_alice", USER)

    server = FakeGitHubServer(state).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        DOPPEL_REDIS_URL=redis_url,
        DOPPEL_DATA_DIR=str(data_dir or root / "data"),
        DOPPEL_REPOS_DIR=str(root / "clones"),
        DOPPEL_DEVICE="cpu",
        DOPPEL_GITHUB_API_URL=server.api_url,
        DOPPEL_GITHUB_WEB_URL=(root / "remotes").as_uri(),
        DOPPEL_GITHUB_APP_ID=str(APP_ID),
        DOPPEL_GITHUB_PRIVATE_KEY_PATH=str(pem_path),
        DOPPEL_TASK_MAX_RETRIES="2",
    )
    env.update({f"DOPPEL_{name.upper()}": value for name, value in settings.items()})
    env.update(worker_env or {})
    workers = Workers(env=env, logs=root, pool=pool, concurrency=concurrency)
    receiver_settings = Settings(_env_file=None, github_webhook_secret=SECRET, redis_url=redis_url)  # type: ignore[call-arg]
    enqueuer = ResultKeepingEnqueuer(receiver_settings)
    try:
        workers.start()
        with TestClient(create_app(receiver_settings, enqueuer=enqueuer)) as http:
            yield World(server, Hooks(http, enqueuer), workers, root)
    finally:
        workers.stop()
        server.stop()
        client.flushdb()
        client.close()
