"""Feedback tasks: a resolved or unresolved review thread of one of doppel's findings.

Reactions have no webhook; the nightly retrain polls them (``workers.services.feedback``).
"""

from __future__ import annotations

from celery import Task, shared_task

from workers.jobs import ThreadFeedbackJob
from workers.services import feedback
from workers.tasks import names
from workers.tasks.base import run_flow


# Safe to retry: a resolution replaces the thread's earlier one, so recording it twice is once.
@shared_task(bind=True, name=names.RECORD_THREAD_FEEDBACK)
def record_thread_feedback(
    self: Task,
    *,
    installation_id: int | None,
    repo: str,
    pr_number: int,
    fingerprints: list[str],
    resolved: bool,
    sender: str,
    repo_id: int | None = None,
) -> str:
    job = ThreadFeedbackJob(
        installation_id=installation_id,
        repo=repo,
        repo_id=repo_id,
        pr_number=pr_number,
        fingerprints=tuple(fingerprints),
        resolved=resolved,
        sender=sender,
    )
    return run_flow(self, feedback.record_thread_feedback, job)
