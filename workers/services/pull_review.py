"""Answers to ``/similar`` commands on a pull request, from the review service and a fetched clone.

Pure of Celery and of GitHub: it takes the ``ReviewService``, the repository's ``GitSource`` and a
parsed ``Command`` and returns the Markdown to post. The worker runtime fetches the clone and
posts the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.commands import Command, CommandKind
from core.domain import Match, RepoRef
from core.errors import ConfigError
from github_adapter.render import render_similar

if TYPE_CHECKING:
    from embedding.source import GitSource
    from workers.services.plan import ReviewPlan
    from workers.services.review import ReviewService

CHANGED_ANSWER = "The review summary on this pull request lists what its changed functions resemble."


def search(
    reviewer: ReviewService,
    source: GitSource,
    repo: RepoRef,
    command: Command,
    head: str,
    *,
    base: str | None = None,
    plan: ReviewPlan | None = None,
) -> list[Match]:
    """The matches ``command`` asks for: a query, or a function (by name or file line) at ``head``,
    searched against ``base`` (default: ``head``) under the job's ``plan``, without writing the index."""
    common: dict[str, Any] = {"commit": head, "base": base, "plan": plan}
    if command.kind is CommandKind.QUERY:
        return reviewer.similar(source, repo, query=command.query, **common)
    if command.kind is CommandKind.AT:
        if command.path is None or command.line is None:
            raise ConfigError("a /similar FILE:LINE command needs both a path and a line")
        return reviewer.similar(source, repo, at=(command.path, command.line), **common)
    if command.kind is CommandKind.FUNCTION:
        name = f"{command.path}:{command.function}" if command.path else command.function
        return reviewer.similar(source, repo, function=name, **common)
    raise ConfigError(f"/similar {command.kind.value} is not a search")


def subject_of(command: Command) -> str:
    """How the answer names what was searched for."""
    if command.kind is CommandKind.QUERY:
        return f'"{command.query}"'
    if command.kind is CommandKind.AT:
        return f"`{command.path}:{command.line}`"
    return f"`{command.path}:{command.function}`" if command.path else f"`{command.function}`"


def similar_answer(
    reviewer: ReviewService,
    source: GitSource,
    repo: RepoRef,
    command: Command,
    *,
    head: str,
    web_url: str,
    base: str | None = None,
    plan: ReviewPlan | None = None,
) -> str:
    """Markdown answer to a ``/similar`` search: a table of the best matches, linked at their commit.

    A bare ``/similar`` on the conversation (``CHANGED``) points at the review summary, which
    already holds the answer for every changed function.
    """
    if command.kind is CommandKind.CHANGED:
        return CHANGED_ANSWER
    matches = search(reviewer, source, repo, command, head, base=base, plan=plan)
    # The matches are the base's code: link them there.
    return render_similar(matches, web_url=web_url, slug=repo.slug, commit=base or head, subject=subject_of(command))
