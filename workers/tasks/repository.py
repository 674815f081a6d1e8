"""Repository tasks: indexing on push and installation, dropping on removal, retraining."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from workers.jobs import DropJob, IndexJob, RetrainJob
from workers.services import flows
from workers.tasks import names
from workers.tasks.base import run_flow


# Safe to retry: an incremental update starts from the commit stored in the collection's meta,
# and point ids are deterministic, so re-running upserts the same points. One writer per
# repository at a time: a job that finds the index lock held retries (IndexBusyError).
@shared_task(bind=True, name=names.INDEX_PUSH)
def index_push(
    self: Task, *, installation_id: int | None, repo: str, commit: str, repo_id: int | None = None
) -> dict[str, Any]:
    job = IndexJob(installation_id=installation_id, repo=repo, commit=commit, repo_id=repo_id)
    return run_flow(self, flows.index_repository, job)


# Safe to retry: as index_push; a collection already up to date is left as it is. ``register``
# false (the reconciler) leaves a repository that is no longer served alone.
@shared_task(bind=True, name=names.INDEX_REPOSITORY)
def index_repository(
    self: Task, *, installation_id: int | None, repo: str, register: bool = True, repo_id: int | None = None
) -> dict[str, Any]:
    job = IndexJob(installation_id=installation_id, repo=repo, register=register, repo_id=repo_id)
    return run_flow(self, flows.index_repository, job)


# Safe to retry: dropping what is already gone is a no-op.
@shared_task(bind=True, name=names.DROP_REPOSITORY)
def drop_repository(self: Task, *, installation_id: int | None, repo: str, repo_id: int | None = None) -> str:
    job = DropJob(installation_id=installation_id, repo=repo, repo_id=repo_id)
    return run_flow(self, flows.drop_repository, job)


# Safe to retry: a run trains into a new version and promotes it atomically; a half-done run
# leaves the current adapters in place.
@shared_task(bind=True, name=names.RETRAIN_REPOSITORY)
def retrain_repository(
    self: Task, *, installation_id: int | None, repo: str, repo_id: int | None = None
) -> dict[str, Any]:
    job = RetrainJob(installation_id=installation_id, repo=repo, repo_id=repo_id)
    return run_flow(self, flows.retrain_repository, job)
