"""Route parsed webhook events to task names with JSON keyword arguments. Pure.

``route`` returns a ``Decision``: the jobs to enqueue (possibly none) and a short ``reason``
that names why (``pull_request.opened`` or ``ignored.draft``), used for logs and metrics.

Who may run a ``/similar`` command is decided in two steps, so that the receiver stays fast and
never talks to GitHub. Here, from the payload: a commenter whose ``author_association`` is in
``Policy.allowed_associations`` (OWNER, MEMBER, COLLABORATOR) is ``trusted``; one in
``checked_associations`` (CONTRIBUTOR, NONE ...: a private member or a team member may show so),
or with none at all, is queued as ``check``, and the worker asks GitHub's collaborator-permission
API before it does anything (``workers.services.access``); anyone else is dropped here. The PR's
own author may always ``/similar ignore`` their pull request. Every command job also carries the
commenter's and the pull request's rate-limit counters, which the queue counts in Redis in the
same round trip as the delivery (``bot.webhooks.enqueue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.commands import Command, CommandKind, find_command
from bot.webhooks.events import (
    CommentEvent,
    Event,
    InstallationEvent,
    Ping,
    PullRequestEvent,
    PushEvent,
    ReviewThreadEvent,
    Unhandled,
)
from core.settings import DEFAULT_CHECKED_ASSOCIATIONS, DEFAULT_COMMAND_ASSOCIATIONS
from workers.jobs import CommandJob, DropJob, IndexJob, RepoJob, ReviewJob, ThreadFeedbackJob

if TYPE_CHECKING:
    from core.settings import Settings

REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
RATE_KEY_PREFIX = "doppel:ratelimit:"
_MAX_KEY_PART = 200  # GitHub logins and names are far shorter; a longer one only shares a counter


class Access(StrEnum):
    """How far the receiver trusts a command's author (see the module docstring)."""

    TRUSTED = "trusted"  # write access by association (or the PR's author ignoring their PR)
    CHECK = "check"  # the worker asks GitHub's permission API first


@dataclass(frozen=True)
class RateLimit:
    """A fixed-window counter in Redis: at most ``limit`` counts per ``window_seconds`` under ``key``."""

    key: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Policy:
    """What the router skips (drafts unless ``review_drafts``, the bot's own doings), whose
    commands it passes on, and the rate limits they count against (0: none)."""

    review_drafts: bool = False
    bot_login: str = "doppel[bot]"
    allowed_associations: frozenset[str] = frozenset(DEFAULT_COMMAND_ASSOCIATIONS)
    checked_associations: frozenset[str] = frozenset(DEFAULT_CHECKED_ASSOCIATIONS)
    user_limit: int = 0
    pull_limit: int = 0
    window_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            review_drafts=settings.review_drafts,
            bot_login=settings.bot_login,
            allowed_associations=frozenset(settings.command_allowed_associations),
            checked_associations=frozenset(settings.command_checked_associations),
            user_limit=settings.command_rate_limit_per_user,
            pull_limit=settings.command_rate_limit_per_pull,
            window_seconds=settings.command_rate_window_seconds,
        )

    def is_self(self, login: str) -> bool:
        return bool(login) and login.lower() == self.bot_login.lower()

    def access(self, kind: CommandKind, event: CommentEvent) -> Access | None:
        """``TRUSTED``, ``CHECK`` or ``None`` (drop) for a command of ``kind`` in ``event``."""
        if kind is CommandKind.IGNORE and event.pull_author and event.author.lower() == event.pull_author.lower():
            return Access.TRUSTED
        association = (event.association or "").upper()
        if association in self.allowed_associations:
            return Access.TRUSTED
        # No association at all is not GitHub's way; whoever sent it, the API has the answer.
        if not association or association in self.checked_associations:
            return Access.CHECK
        return None

    def limits(self, login: str, repo: str, number: int) -> tuple[RateLimit, ...]:
        """The counters ``login`` acting on pull request ``number`` of ``repo`` counts against, the
        user's first: a user over their own limit does not use up the PR's."""
        user = login.lower()[:_MAX_KEY_PART]
        pull = f"{repo.lower()[:_MAX_KEY_PART]}#{number}"
        found = [
            RateLimit(f"{RATE_KEY_PREFIX}user:{user}", self.user_limit, self.window_seconds),
            RateLimit(f"{RATE_KEY_PREFIX}pull:{pull}", self.pull_limit, self.window_seconds),
        ]
        return tuple(limit for limit in found if limit.limit > 0)


@dataclass(frozen=True)
class Job:
    """One task to enqueue: its registered name and keyword-only JSON arguments, and the rate
    limits it counts against (the queue refuses the delivery's jobs when one is spent). Built
    from a typed job (``workers.jobs``) with ``Job.of``, so a task's arguments are spelt once."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    limits: tuple[RateLimit, ...] = ()

    @classmethod
    def of(cls, job: RepoJob, *, limits: tuple[RateLimit, ...] = ()) -> Job:
        return cls(job.task, job.to_kwargs(), limits)


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
    if isinstance(event, ReviewThreadEvent):
        return _review_thread(event, policy)
    assert isinstance(event, Unhandled)
    return Decision((), f"ignored.{event.event}" + (f".{event.action}" if event.action else ""))


def _review_thread(event: ReviewThreadEvent, policy: Policy) -> Decision:
    """A thread of one of doppel's findings resolved or unresolved: feedback for its training
    (``workers.services.feedback``; the worker asks GitHub whether the sender may steer it)."""
    if event.action not in ("resolved", "unresolved"):
        return Decision((), f"ignored.pull_request_review_thread.{event.action}")
    if policy.is_self(event.sender):
        return Decision((), "ignored.own_action")
    if not policy.is_self(event.root_author) or not event.fingerprints:
        return Decision((), "ignored.review_thread.not_doppels")
    feedback = ThreadFeedbackJob(
        installation_id=event.installation_id,
        repo=event.repo,
        repo_id=event.repo_id,
        pr_number=event.number,
        fingerprints=event.fingerprints,
        resolved=event.action == "resolved",
        sender=event.sender,
    )
    # The commenters' counters: resolving and unresolving in a loop costs what commands do.
    limits = policy.limits(event.sender, event.repo, event.number)
    return Decision((Job.of(feedback, limits=limits),), f"review_thread.{event.action}")


def _pull_request(event: PullRequestEvent, policy: Policy) -> Decision:
    if event.action not in REVIEW_ACTIONS:
        return Decision((), f"ignored.pull_request.{event.action}")
    if event.state != "open":
        return Decision((), "ignored.pull_request.not_open")
    if event.draft and not policy.review_drafts:
        return Decision((), "ignored.draft")
    if policy.is_self(event.sender):
        return Decision((), "ignored.own_action")
    review = ReviewJob(
        installation_id=event.installation_id,
        repo=event.repo,
        repo_id=event.repo_id,
        pr_number=event.number,
        head_sha=event.head_sha,
        action=event.action,  # the repository's `events` decide in the worker whether it reviews
    )
    job = Job.of(review)
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
    access = policy.access(command.kind, event)
    if access is None:
        return Decision((), "ignored.command.not_allowed")
    answer = CommandJob(
        installation_id=event.installation_id,
        repo=event.repo,
        repo_id=event.repo_id,
        pr_number=event.number,
        comment_id=event.comment_id,
        command=command,
        # Where the answer goes: the diff thread of a review comment, or the conversation.
        review_comment=event.event == "pull_request_review_comment",
        # Who asked, and whether the worker must ask GitHub if they may (workers.services.access).
        author=event.author,
        access=access.value,
    )
    job = Job.of(answer, limits=policy.limits(event.author, event.repo, event.number))
    return Decision((job,), f"command.{command.kind.value}")


def _push(event: PushEvent) -> Decision:
    if not event.to_default_branch:
        return Decision((), "ignored.push.not_default_branch")
    if event.deleted:
        return Decision((), "ignored.push.deleted")
    job = Job.of(
        IndexJob(installation_id=event.installation_id, repo=event.repo, repo_id=event.repo_id, commit=event.after)
    )
    return Decision((job,), "push.default_branch")


def _installation(event: InstallationEvent) -> Decision:
    def job(kind: type[IndexJob] | type[DropJob], repo: str) -> Job:
        return Job.of(kind(installation_id=event.installation_id, repo=repo, repo_id=event.repo_ids.get(repo)))

    jobs = [job(IndexJob, repo) for repo in event.added]
    jobs += [job(DropJob, repo) for repo in event.removed]
    if not jobs:
        return Decision((), f"ignored.{event.event}.{event.action}.no_repositories")
    return Decision(tuple(jobs), f"{event.event}.{event.action}")
