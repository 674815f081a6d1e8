"""Periodic tasks run by Celery beat: the nightly retrain fan-out and the open-PR reconciler."""

from __future__ import annotations

from celery import Task, shared_task

from workers.services import flows
from workers.tasks import names
from workers.tasks.base import run_flow


# Safe to retry: it only queues retrains, which are themselves safe to repeat.
@shared_task(bind=True, name=names.NIGHTLY_RETRAIN)
def nightly_retrain(self: Task) -> int:
    return run_flow(self, flows.nightly_retrain)


# Safe to retry: PRs already reviewed at their head are skipped, and reviews coalesce per PR.
@shared_task(bind=True, name=names.RECONCILE_OPEN_PULLS)
def reconcile_open_pulls(self: Task) -> int:
    return run_flow(self, flows.reconcile_open_pulls)
