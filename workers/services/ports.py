"""The ports the job flows (``workers.services.flows``) run against, so that flows stay free of
Celery and tests use fakes: GitHub for one installation (``GitHubPort``), and ``Runtime``, the
embedding-side work on a fetched repository, Redis-backed coalescing and bookkeeping, and a way
to queue follow-up jobs. ``workers.tasks.production`` provides the production ones;
``workers.tasks.runtime.load_runtime`` builds one per worker process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from core.commands import Command
from core.domain import RepoRef
from core.settings import Settings
from workers.services.coalesce import PullCoalescer
from workers.services.repo_registry import RepoRegistry

if TYPE_CHECKING:
    from workers.jobs import RepoJob
    from workers.services.plan import ReviewPlan


class PullView(Protocol):
    """What doppel reads of a pull request (``github_adapter.client.PullInfo`` fits)."""

    number: int
    state: str
    draft: bool
    head_sha: str
    base_sha: str
    author: str


class GitHubPort(Protocol):
    """GitHub calls the tasks make, for one installation (F2's client behind an adapter)."""

    def pull(self, repo: str, number: int) -> PullView: ...

    def open_pulls(self, repo: str) -> Sequence[PullView]: ...

    def has_review(self, repo: str, number: int, head_sha: str) -> bool:
        """True when doppel already posted its review of ``head_sha`` (its summary's head marker)."""
        ...

    def publish_review(self, repo: str, number: int, result: Any) -> None:
        """Post or update the summary and inline comments for a ``ReviewResult``."""
        ...

    def permission(self, repo: str, login: str) -> str:
        """``login``'s permission on ``repo``: ``admin``, ``maintain``, ``write``, ``read`` or ``none``."""
        ...

    def is_review_comment(self, repo: str, number: int, comment_id: int) -> bool:
        """True when ``comment_id`` is a comment on the PR's diff (else one on its conversation)."""
        ...

    def react(self, repo: str, comment_id: int, content: str, *, review_comment: bool) -> None:
        """Put a reaction (``eyes``: being worked on) on a comment of either kind."""
        ...

    def reply(self, repo: str, number: int, comment_id: int, body: str, *, review_comment: bool) -> None:
        """Answer the comment ``comment_id`` of pull request ``number``: in its thread when it is
        a comment on the diff, else as a new comment on the conversation."""
        ...


class Runtime(Protocol):
    settings: Settings
    coalescer: PullCoalescer
    registry: RepoRegistry

    def github(self, installation_id: int | None) -> GitHubPort: ...

    def plan(self, repo: RepoRef) -> ReviewPlan:
        """The job's plan: settings, ``.github/doppel.yml`` on the default branch, the adapter pointer."""
        ...

    def review(self, repo: RepoRef, *, pr_number: int, base: str, head: str, plan: ReviewPlan) -> Any:
        """Fetch the PR's commits and run ``ReviewService.review`` under ``plan`` (never writing the
        index; asking for an index job when there is none); returns the ``ReviewResult``."""
        ...

    def similar(
        self, repo: RepoRef, *, pr_number: int, head: str, base: str, command: Command, plan: ReviewPlan
    ) -> str:
        """Run a ``/similar`` search for ``head``'s code against ``base``; return the Markdown answer."""
        ...

    def index(self, repo: RepoRef, *, commit: str | None) -> dict[str, Any]:
        """Fetch ``repo`` and bring its index to the default branch's head, as its one writer
        (``commit``, a push's, is a hint); returns IndexStats as a dict."""
        ...

    def drop(self, repo: RepoRef) -> None:
        """Delete the repository's collections, adapters and clone."""
        ...

    def retrain(self, repo: RepoRef) -> dict[str, Any]:
        """Run the retraining loop for ``repo``; returns the report as a dict."""
        ...

    def enqueue(self, job: RepoJob) -> None:
        """Queue ``job`` for the task that runs it (``job.task`` with ``job.to_kwargs()``)."""
        ...
