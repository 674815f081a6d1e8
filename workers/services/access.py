"""Who may run a ``/similar`` command: the worker's half of the check, asked of GitHub.

The receiver already dropped commands from commenters it can tell have no business with the
bot, and marked the rest (``bot.webhooks.dispatch.Access``): ``trusted`` (write access by
``author_association``, or the pull request's author ignoring their own pull request) runs as it
is; ``check`` (an association such as CONTRIBUTOR or NONE, which a private organisation member or
a team member with write access may show) is asked of GitHub's collaborator-permission API here,
before the command reacts, searches or writes anything:

* any command runs for ``write``, ``maintain`` or ``admin`` permission;
* ``/similar ignore`` also runs for the pull request's author;
* anyone else gets one polite reply per pull request (remembered in Redis), then silence.

A job without ``access`` comes from a producer other than the receiver (the CLI, tests, a job
queued before this check existed); only the receiver turns GitHub input into jobs, and it always
sets it, so such a job runs as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.commands import Command, CommandKind
from core.domain import RepoRef

if TYPE_CHECKING:
    from workers.tasks.runtime import GitHubPort, Runtime

log = logging.getLogger(__name__)

TRUSTED = "trusted"
CHECK = "check"
# The collaborator-permission API's answers that mean write access ("maintain" is what newer
# API versions call a maintainer; the legacy ``permission`` field folds it into "write").
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})

REFUSAL = (
    "Sorry, `/similar` commands on this repository can be run only by people with write access to it "
    "(and `/similar ignore` by the pull request's author as well). A maintainer can run it for you."
)


def may_run(kind: CommandKind, permission: str, *, is_pull_author: bool) -> bool:
    """Whether someone with ``permission`` on the repository may run a command of ``kind``. Pure."""
    if permission.lower() in WRITE_PERMISSIONS:
        return True
    return kind is CommandKind.IGNORE and is_pull_author


def command_permitted(
    rt: Runtime,
    github: GitHubPort,
    repo: RepoRef,
    pr_number: int,
    comment_id: int,
    command: Command,
    author: str | None,
    access: str | None,
    *,
    on_diff: bool,
) -> bool:
    """True when the command may run; otherwise refuses it (politely, once per user and pull
    request) and returns False. Asks GitHub only for ``check`` jobs."""
    if access is None or access == TRUSTED:
        return True
    if access != CHECK or not author:  # never written so by the receiver: refuse rather than guess
        log.warning(
            "command.refused repo=%s pr=%d: access %r for author %r",
            repo.slug,
            pr_number,
            access[:40],
            (author or "")[:40],
        )
        return False
    permission = github.permission(repo.slug, author)
    is_pull_author = False
    if command.kind is CommandKind.IGNORE and permission.lower() not in WRITE_PERMISSIONS:
        is_pull_author = github.pull(repo.slug, pr_number).author.lower() == author.lower()
    if may_run(command.kind, permission, is_pull_author=is_pull_author):
        return True
    log.info(
        "command.refused repo=%s pr=%d author=%s permission=%s command=%s",
        repo.slug,
        pr_number,
        author,
        permission,
        command.kind.value,
    )
    if rt.registry.first_refusal(repo, pr_number, author):
        github.reply(repo.slug, pr_number, comment_id, REFUSAL, review_comment=on_diff)
    return False
