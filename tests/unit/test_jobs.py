"""Typed jobs (``workers.jobs``): one dataclass per kind of work, whose kwargs bind to the task
that runs it, built the same way by the webhook's dispatch, the re-queue of a pushed head and
the reconciler."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from core.commands import Command, CommandKind
from core.domain import RepoRef
from workers.jobs import CommandJob, DropJob, IndexJob, RepoJob, RetrainJob, ReviewJob
from workers.tasks import names

REF = RepoRef("acme/shop", 7, 4242)

JOBS: list[RepoJob] = [
    ReviewJob.for_repo(REF, pr_number=3, head_sha="a" * 40, action="opened"),
    ReviewJob.for_repo(RepoRef("acme/shop", 7), pr_number=3, head_sha="b" * 40),  # the reconciler's
    CommandJob.for_repo(REF, pr_number=3, comment_id=99, command=Command(CommandKind.QUERY, query="parse a date")),
    CommandJob.for_repo(REF, pr_number=3, comment_id=99, command=Command(CommandKind.CONFIG), author="alice"),
    IndexJob.for_repo(REF, commit="c" * 40),
    IndexJob.for_repo(REF, register=False),
    DropJob.for_repo(REF),
    RetrainJob.for_repo(REF),
]


def _task_function(task_name: str) -> Any:
    import workers.tasks.repository
    import workers.tasks.review

    for module in (workers.tasks.review, workers.tasks.repository):
        for value in vars(module).values():
            if getattr(value, "name", None) == task_name:
                return value.run
    raise AssertionError(f"no task registered as {task_name}")


@pytest.mark.parametrize("job", JOBS, ids=lambda job: f"{type(job).__name__}-{job.task}")
def test_a_jobs_kwargs_bind_to_the_task_that_runs_it_and_read_back_the_same(job: RepoJob) -> None:
    kwargs = json.loads(json.dumps(job.to_kwargs()))  # what crosses the broker
    inspect.signature(_task_function(job.task)).bind(**kwargs)  # raises on a missing or unknown argument
    assert type(job).from_kwargs(kwargs) == job


def test_tasks_are_chosen_by_what_the_job_asks() -> None:
    search, config = JOBS[2], JOBS[3]
    assert (search.task, config.task) == (names.SIMILAR_COMMAND, names.REPLY_COMMAND)
    assert (JOBS[4].task, JOBS[5].task) == (names.INDEX_PUSH, names.INDEX_REPOSITORY)
    assert JOBS[0].task == names.REVIEW_PULL_REQUEST and JOBS[6].task == names.DROP_REPOSITORY


def test_an_unknown_repository_id_is_left_out_and_a_known_one_carried() -> None:
    assert "repo_id" not in JOBS[1].to_kwargs()
    assert JOBS[0].to_kwargs()["repo_id"] == 4242 and JOBS[0].ref == REF


def test_unknown_task_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        ReviewJob.from_kwargs({"installation_id": 1, "repo": "a/b", "pr_number": 1, "head_sha": "x", "extra": 1})


def test_dispatch_and_the_reconciler_build_the_same_review_job() -> None:
    """The webhook and the reconciler queue a review through one dataclass: same task, same keys."""
    from bot.webhooks.dispatch import Job, Policy, route
    from bot.webhooks.events import parse_event

    payload = {
        "action": "opened",
        "number": 3,
        "sender": {"login": "alice", "type": "User"},
        "repository": {"full_name": "acme/shop", "id": 4242},
        "installation": {"id": 7},
        "pull_request": {
            "number": 3,
            "state": "open",
            "draft": False,
            "head": {"sha": "a" * 40},
            "base": {"sha": "d" * 40, "ref": "main"},
            "user": {"login": "alice"},
        },
    }
    (queued,) = route(parse_event("pull_request", payload), Policy()).jobs
    assert queued == Job.of(JOBS[0])
    reconciled = ReviewJob.for_repo(REF, pr_number=3, head_sha="a" * 40)
    assert Job.of(reconciled).task == queued.task
    assert set(Job.of(reconciled).kwargs) == set(queued.kwargs)
