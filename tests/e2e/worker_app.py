"""The production Celery app with a short broker visibility timeout, for the end-to-end tests.

With late acks on Redis, a task whose worker died unacknowledged is handed out again once the
visibility timeout has passed since its delivery and a worker's periodic sweep finds it;
production waits hours (``workers.celery_app``), the test that kills a worker cannot. The sweep
runs every second here (kombu's default: every 10 x 10 s). The pool must be ``solo``: it blocks
the sweep while a task runs, so a task that outlasts the timeout is not handed out twice.
``celery -A tests.e2e.worker_app worker --pool=solo`` runs it. A module that runs tasks side by
side (``--pool=threads``) sets ``E2E_VISIBILITY_TIMEOUT_S`` past its longest task instead, and
``E2E_TASK_SPANS`` to a Redis list that records each task's start and end in the order they
happened, so a test can tell that two tasks overlapped without measuring time.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from workers.celery_app import app

VISIBILITY_TIMEOUT_S = int(os.environ.get("E2E_VISIBILITY_TIMEOUT_S", "15"))
TASK_SPANS = "E2E_TASK_SPANS"
# A file named by this variable makes the worker SIGKILL itself right after its next review is
# published, before Celery acknowledges the task: the crash that could post a review twice. The
# dying worker removes the file first, so the worker started after it runs normally.
DIE_AFTER_PUBLISH = "E2E_DIE_AFTER_PUBLISH"

app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}


def _die_after_publishing(flag: Path) -> None:
    from workers.tasks.production import GitHubAdapter

    publish = GitHubAdapter.publish_review

    def publish_then_die(self: GitHubAdapter, repo: str, number: int, result: Any) -> None:
        publish(self, repo, number, result)
        if flag.exists():
            flag.unlink()
            os.kill(os.getpid(), signal.SIGKILL)

    GitHubAdapter.publish_review = publish_then_die  # type: ignore[method-assign]


def _record_spans(key: str) -> None:
    import redis
    from celery.signals import task_postrun, task_prerun

    client = redis.Redis.from_url(os.environ["DOPPEL_REDIS_URL"])

    def started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        client.rpush(key, f"start {task.name} {task_id}")

    def ended(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        client.rpush(key, f"end {task.name} {task_id}")

    task_prerun.connect(started, weak=False)
    task_postrun.connect(ended, weak=False)


if os.environ.get(TASK_SPANS):
    _record_spans(os.environ[TASK_SPANS])

if os.environ.get(DIE_AFTER_PUBLISH):
    _die_after_publishing(Path(os.environ[DIE_AFTER_PUBLISH]))

__all__ = ["app"]
