"""Answers to ``/similar`` commands on a pull request, from the review service and a fetched clone.

Pure of Celery and of GitHub: it takes the ``ReviewService``, the repository's ``GitSource`` and a
parsed ``Command`` and returns the Markdown to post. The worker runtime fetches the clone and
posts the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands import Command, CommandKind
from bot.github.render import render_similar
from core.domain import Match, RepoRef
from core.errors import ConfigError

if TYPE_CHECKING:
    from embedding.source import GitSource
    from workers.services.review import ReviewService

CHANGED_ANSWER = "The review summary on this pull request lists what its changed functions resemble."


def search(reviewer: ReviewService, source: GitSource, repo: RepoRef, command: Command, head: str) -> list[Match]:
    """The matches ``command`` asks for at ``head`` (a query, a function by name, or a file line)."""
    if command.kind is CommandKind.QUERY:
        return reviewer.similar(source, repo, query=command.query, commit=head)
    if command.kind is CommandKind.AT:
        if command.path is None or command.line is None:
            raise ConfigError("a /similar FILE:LINE command needs both a path and a line")
        return reviewer.similar(source, repo, at=(command.path, command.line), commit=head)
    if command.kind is CommandKind.FUNCTION:
        name = f"{command.path}:{command.function}" if command.path else command.function
        return reviewer.similar(source, repo, function=name, commit=head)
    raise ConfigError(f"/similar {command.kind.value} is not a search")


def subject_of(command: Command) -> str:
    """How the answer names what was searched for."""
    if command.kind is CommandKind.QUERY:
        return f'"{command.query}"'
    if command.kind is CommandKind.AT:
        return f"`{command.path}:{command.line}`"
    return f"`{command.path}:{command.function}`" if command.path else f"`{command.function}`"


def similar_answer(
    reviewer: ReviewService, source: GitSource, repo: RepoRef, command: Command, *, head: str, web_url: str
) -> str:
    """Markdown answer to a ``/similar`` search: a table of the best matches, linked at their commit.

    A bare ``/similar`` on the conversation (``CHANGED``) points at the review summary, which
    already holds the answer for every changed function.
    """
    if command.kind is CommandKind.CHANGED:
        return CHANGED_ANSWER
    matches = search(reviewer, source, repo, command, head)
    return render_similar(matches, web_url=web_url, slug=repo.slug, commit=head, subject=subject_of(command))
