"""Route parsed webhook events to task names with JSON keyword arguments. Pure.

``route`` returns a ``Decision``: the jobs to enqueue (possibly none) and a short ``reason``
that names why (``pull_request.opened`` or ``ignored.draft``), used for logs and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.commands import Command, CommandKind, find_command
from bot.webhooks.events import (
    CommentEvent,
    Event,
    InstallationEvent,
    Ping,
    PullRequestEvent,
    PushEvent,
    Unhandled,
)
from workers.tasks import names

REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})


@dataclass(frozen=True)
class Policy:
    """What the router skips: drafts (unless ``review_drafts``) and the bot's own doings."""

    review_drafts: bool = False
    bot_login: str = "doppel[bot]"

    def is_self(self, login: str) -> bool:
        return bool(login) and login.lower() == self.bot_login.lower()


@dataclass(frozen=True)
class Job:
    """One task to enqueue: its registered name and keyword-only JSON arguments."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    jobs: tuple[Job, ...]
    reason: str

    @property
    def accepted(self) -> bool:
        return bool(self.jobs)


def route(event: Event, policy: Policy) -> Decision:
    """The jobs an event calls for under ``policy``."""
    if isinstance(event, Ping):
        return Decision((), "ping")
    if isinstance(event, PullRequestEvent):
        return _pull_request(event, policy)
    if isinstance(event, CommentEvent):
        return _comment(event, policy)
    if isinstance(event, PushEvent):
        return _push(event)
    if isinstance(event, InstallationEvent):
        return _installation(event)
    assert isinstance(event, Unhandled)
    return Decision((), f"ignored.{event.event}" + (f".{event.action}" if event.action else ""))


def _pull_request(event: PullRequestEvent, policy: Policy) -> Decision:
    if event.action not in REVIEW_ACTIONS:
        return Decision((), f"ignored.pull_request.{event.action}")
    if event.state != "open":
        return Decision((), "ignored.pull_request.not_open")
    if event.draft and not policy.review_drafts:
        return Decision((), "ignored.draft")
    if policy.is_self(event.sender):
        return Decision((), "ignored.own_action")
    job = Job(
        names.REVIEW_PULL_REQUEST,
        {
            "installation_id": event.installation_id,
            "repo": event.repo,
            "pr_number": event.number,
            "head_sha": event.head_sha,
            "action": event.action,  # the repository's `events` decide in the worker whether it reviews
        },
    )
    return Decision((job,), f"pull_request.{event.action}")


def _comment(event: CommentEvent, policy: Policy) -> Decision:
    if event.action != "created":
        return Decision((), f"ignored.{event.event}.{event.action}")
    if not event.on_pull_request:
        return Decision((), "ignored.comment.not_pull_request")
    if policy.is_self(event.author):
        return Decision((), "ignored.own_comment")
    command = find_command(event.body)
    if command is None:
        return Decision((), "ignored.comment.no_command")
    # On a diff comment, a bare "/similar" means the function under the comment.
    if command.kind is CommandKind.CHANGED and event.path and event.line:
        command = Command(CommandKind.AT, path=event.path, line=event.line)
    kwargs: dict[str, Any] = {
        "installation_id": event.installation_id,
        "repo": event.repo,
        "pr_number": event.number,
        "comment_id": event.comment_id,
        "command": command.to_dict(),
        # Where the answer goes: the diff thread of a review comment, or the conversation.
        "review_comment": event.event == "pull_request_review_comment",
    }
    searches = (CommandKind.CHANGED, CommandKind.FUNCTION, CommandKind.AT, CommandKind.QUERY)
    task = names.SIMILAR_COMMAND if command.kind in searches else names.REPLY_COMMAND
    return Decision((Job(task, kwargs),), f"command.{command.kind.value}")


def _push(event: PushEvent) -> Decision:
    if not event.to_default_branch:
        return Decision((), "ignored.push.not_default_branch")
    if event.deleted:
        return Decision((), "ignored.push.deleted")
    job = Job(names.INDEX_PUSH, {"installation_id": event.installation_id, "repo": event.repo, "commit": event.after})
    return Decision((job,), "push.default_branch")


def _installation(event: InstallationEvent) -> Decision:
    jobs = [
        Job(names.INDEX_REPOSITORY, {"installation_id": event.installation_id, "repo": repo}) for repo in event.added
    ]
    jobs += [
        Job(names.DROP_REPOSITORY, {"installation_id": event.installation_id, "repo": repo}) for repo in event.removed
    ]
    if not jobs:
        return Decision((), f"ignored.{event.event}.{event.action}.no_repositories")
    return Decision(tuple(jobs), f"{event.event}.{event.action}")
