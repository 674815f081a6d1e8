"""Typed jobs: what one task is asked to do, as one frozen dataclass per kind of work.

The webhook's dispatch, a review that re-queues the head pushed while it ran, the reconciler,
the nightly fan-out and the index request of a review that found no index all build these, and
the Celery tasks rebuild them from their keyword arguments, so a job's fields are spelt once.
A job is plain data (JSON primitives, and a ``Command``): ``to_kwargs`` gives the task's
keyword-only arguments, ``from_kwargs`` reads them back, and ``task`` names the task that runs it.

Light on purpose: the webhook process imports this module (no Celery, git or torch).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from core.commands import Command, CommandKind
from core.domain import RepoRef
from workers.tasks import names

J = TypeVar("J", bound="RepoJob")

# Commands that search the index (the ``gpu`` queue); the others only answer (``io``).
SEARCH_COMMANDS = frozenset({CommandKind.CHANGED, CommandKind.FUNCTION, CommandKind.AT, CommandKind.QUERY})


@dataclass(frozen=True, kw_only=True)
class RepoJob:
    """A job about one repository. ``repo_id`` (GitHub's numeric id) names its collections, so
    every job about a repository carries it when it is known."""

    TASK: ClassVar[str] = ""

    installation_id: int | None
    repo: str
    repo_id: int | None = None

    @property
    def task(self) -> str:
        """The registered name of the task that runs this job."""
        return self.TASK

    @property
    def ref(self) -> RepoRef:
        return RepoRef(self.repo, self.installation_id, self.repo_id)

    @classmethod
    def for_repo(cls: type[J], ref: RepoRef, **values: Any) -> J:
        return cls(installation_id=ref.installation_id, repo=ref.slug, repo_id=ref.repo_id, **values)

    def to_kwargs(self) -> dict[str, Any]:
        """The task's keyword arguments: JSON primitives; an unknown ``repo_id`` is left out."""
        kwargs: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "repo_id" and value is None:
                continue
            kwargs[spec.name] = value.to_dict() if isinstance(value, Command) else value
        return kwargs

    @classmethod
    def from_kwargs(cls: type[J], kwargs: dict[str, Any]) -> J:
        """The job a task was given (unknown keys are refused, as the task signature would)."""
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
        values = dict(kwargs)
        if isinstance(values.get("command"), dict):
            values["command"] = Command.from_dict(values["command"])
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class ReviewJob(RepoJob):
    """Review one head of a pull request. ``action``: the pull request event that asked for it
    (``None``: the reconciler); the plan's ``events`` decide whether it reviews."""

    TASK: ClassVar[str] = names.REVIEW_PULL_REQUEST

    pr_number: int
    head_sha: str
    action: str | None = None


@dataclass(frozen=True, kw_only=True)
class CommandJob(RepoJob):
    """Answer a ``/similar`` command. ``review_comment``: typed on the diff (``None``: ask GitHub);
    ``author`` and ``access``: who asked, and whether GitHub must confirm that they may."""

    pr_number: int
    comment_id: int
    command: Command
    review_comment: bool | None = None
    author: str | None = None
    access: str | None = None

    @property
    def task(self) -> str:
        return names.SIMILAR_COMMAND if self.command.kind in SEARCH_COMMANDS else names.REPLY_COMMAND


@dataclass(frozen=True, kw_only=True)
class IndexJob(RepoJob):
    """Bring the index to the default branch. ``commit``: a push's head (a hint; the push task);
    ``register`` false (the reconciler) leaves a repository no longer served alone."""

    commit: str | None = None
    register: bool = True

    @property
    def task(self) -> str:
        return names.INDEX_PUSH if self.commit is not None else names.INDEX_REPOSITORY

    def to_kwargs(self) -> dict[str, Any]:
        kwargs = super().to_kwargs()
        # Each of the two index tasks takes only its own argument.
        if self.commit is not None:
            kwargs.pop("register")
        else:
            kwargs.pop("commit")
        return kwargs


@dataclass(frozen=True, kw_only=True)
class DropJob(RepoJob):
    """Delete a repository's collections, adapters and clone (the App was uninstalled from it)."""

    TASK: ClassVar[str] = names.DROP_REPOSITORY


@dataclass(frozen=True, kw_only=True)
class RetrainJob(RepoJob):
    """Retrain a repository's adapters and promote them if they are better."""

    TASK: ClassVar[str] = names.RETRAIN_REPOSITORY


@dataclass(frozen=True, kw_only=True)
class ThreadFeedbackJob(RepoJob):
    """Record that ``sender`` resolved (``resolved``) or unresolved a review thread of doppel's
    finding(s) ``fingerprints`` on pull request ``pr_number`` (``workers.services.feedback``)."""

    TASK: ClassVar[str] = names.RECORD_THREAD_FEEDBACK

    pr_number: int
    fingerprints: tuple[str, ...]
    resolved: bool
    sender: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprints", tuple(self.fingerprints))  # a list once it went through JSON

    def to_kwargs(self) -> dict[str, Any]:
        return {**super().to_kwargs(), "fingerprints": list(self.fingerprints)}
