"""Pull request tasks: the review itself and the answers to ``/similar`` commands."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from core.commands import Command
from workers.jobs import CommandJob, ReviewJob
from workers.services import flows
from workers.tasks import names
from workers.tasks.base import run_flow


# Safe to retry: the head-SHA checks and the summary's hidden marker make a second run edit
# the same comments instead of posting new ones; a review never writes the index. ``action``
# (optional) is the pull request event; the repository's ``events`` decide whether it reviews.
@shared_task(bind=True, name=names.REVIEW_PULL_REQUEST)
def review_pull_request(
    self: Task,
    *,
    installation_id: int | None,
    repo: str,
    pr_number: int,
    head_sha: str,
    action: str | None = None,
    repo_id: int | None = None,
) -> str:
    token = self.request.id or f"{repo}#{pr_number}@{head_sha}"
    job = ReviewJob(
        installation_id=installation_id,
        repo=repo,
        pr_number=pr_number,
        head_sha=head_sha,
        action=action,
        repo_id=repo_id,
    )
    return run_flow(self, flows.review_pull_request, job, token=token)


# Safe to retry: a search changes nothing (the index is only read); at worst the answer is posted twice. ``review_comment``
# (optional) says the command was typed on the diff; unset, the task asks GitHub. ``author`` and
# ``access`` (set by the receiver) say who asked and whether GitHub must confirm they may.
@shared_task(bind=True, name=names.SIMILAR_COMMAND)
def similar_command(
    self: Task,
    *,
    installation_id: int | None,
    repo: str,
    pr_number: int,
    comment_id: int,
    command: dict[str, Any],
    review_comment: bool | None = None,
    repo_id: int | None = None,
    author: str | None = None,
    access: str | None = None,
) -> str:
    job = _command_job(installation_id, repo, pr_number, comment_id, command, review_comment, repo_id, author, access)
    return run_flow(self, flows.similar_command, job)


# Safe to retry: ignoring is a set insert; help and config replies are read-only.
@shared_task(bind=True, name=names.REPLY_COMMAND)
def reply_command(
    self: Task,
    *,
    installation_id: int | None,
    repo: str,
    pr_number: int,
    comment_id: int,
    command: dict[str, Any],
    review_comment: bool | None = None,
    repo_id: int | None = None,
    author: str | None = None,
    access: str | None = None,
) -> str:
    job = _command_job(installation_id, repo, pr_number, comment_id, command, review_comment, repo_id, author, access)
    return run_flow(self, flows.reply_command, job)


def _command_job(
    installation_id: int | None,
    repo: str,
    pr_number: int,
    comment_id: int,
    command: dict[str, Any],
    review_comment: bool | None,
    repo_id: int | None,
    author: str | None,
    access: str | None,
) -> CommandJob:
    """The job of either command task, from its arguments (the command as the JSON it travelled as)."""
    return CommandJob(
        installation_id=installation_id,
        repo=repo,
        repo_id=repo_id,
        pr_number=pr_number,
        comment_id=comment_id,
        command=Command.from_dict(command),
        review_comment=review_comment,
        author=author,
        access=access,
    )
