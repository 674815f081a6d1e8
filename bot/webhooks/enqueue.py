"""Putting jobs on the queue: the one thing the webhook process does with accepted work.

``Enqueuer`` is the port; ``CeleryEnqueuer`` sends by task name through a Celery app built
without task modules, and ``RecordingEnqueuer`` is the fake the tests read back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.webhooks.dispatch import Job

if TYPE_CHECKING:
    from celery import Celery


class Enqueuer(Protocol):
    def enqueue(self, job: Job) -> None: ...


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
