"""GitHub webhook payloads parsed into small frozen events holding only what doppel uses.

Parsing is pure and strict about the fields it reads: a payload that lacks one raises
``PayloadError`` (answered with 400), while events and actions doppel does not handle parse to
``Unhandled`` so that the router can say why they were ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import DoppelError
from github_adapter.render import find_fingerprints

ZERO_SHA = "0" * 40
MAX_THREAD_FINGERPRINTS = 4  # a doppel comment carries one; more only in a hand-written one
_THREAD_ROOT_SCAN = 5  # GitHub lists the thread's first comment first; look no further than this


class PayloadError(DoppelError):
    """A webhook payload lacks a field doppel needs or holds one of the wrong type."""


@dataclass(frozen=True)
class Ping:
    hook_id: int | None
    zen: str


@dataclass(frozen=True)
class PullRequestEvent:
    action: str
    installation_id: int | None
    repo: str
    number: int
    head_sha: str
    base_sha: str
    base_ref: str
    draft: bool
    state: str
    sender: str
    repo_id: int | None = None


@dataclass(frozen=True)
class CommentEvent:
    """A comment on a pull request's conversation (``issue_comment``) or on its diff
    (``pull_request_review_comment``, with ``path``/``line``).

    ``association`` is GitHub's ``author_association`` of the commenter (``OWNER``, ``MEMBER``,
    ``COLLABORATOR``, ``CONTRIBUTOR``, ``NONE`` ...; ``None`` when absent) and ``pull_author`` the
    login of the pull request's author, as the payload has them: who may run a command
    (``bot.webhooks.dispatch``)."""

    event: str
    action: str
    installation_id: int | None
    repo: str
    number: int
    on_pull_request: bool
    comment_id: int
    body: str
    author: str
    path: str | None = None
    line: int | None = None
    commit_id: str | None = None
    association: str | None = None
    pull_author: str | None = None
    repo_id: int | None = None


@dataclass(frozen=True)
class PushEvent:
    installation_id: int | None
    repo: str
    ref: str
    before: str
    after: str
    default_branch: str
    deleted: bool
    sender: str
    repo_id: int | None = None

    @property
    def to_default_branch(self) -> bool:
        return self.ref == f"refs/heads/{self.default_branch}"


@dataclass(frozen=True)
class InstallationEvent:
    """``installation`` (repositories: those listed) or ``installation_repositories``
    (added/removed lists). ``repo_ids`` maps each listed repository to its numeric id, where the
    payload has one; it is lookup data, left out of comparisons."""

    event: str
    action: str
    installation_id: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    repo_ids: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ReviewThreadEvent:
    """A review thread resolved or unresolved (``pull_request_review_thread``): who did it, and
    the thread's first comment, whose author and hidden fingerprint markers say whether it is one
    of doppel's findings (at most ``MAX_THREAD_FINGERPRINTS`` of them)."""

    action: str
    installation_id: int | None
    repo: str
    number: int
    sender: str
    root_author: str
    root_comment_id: int | None
    fingerprints: tuple[str, ...]
    repo_id: int | None = None


@dataclass(frozen=True)
class Unhandled:
    event: str
    action: str | None


Event = Ping | PullRequestEvent | CommentEvent | PushEvent | InstallationEvent | ReviewThreadEvent | Unhandled


def parse_event(name: str, payload: Mapping[str, Any]) -> Event:
    """Parse a delivery's payload given its ``X-GitHub-Event`` name."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"a {name!r} payload must be a JSON object, got {type(payload).__name__}")
    parser = _PARSERS.get(name)
    if parser is None:
        return Unhandled(name, _opt_str(payload, "action"))
    return parser(payload)


def _ping(p: Mapping[str, Any]) -> Event:
    hook_id = p.get("hook_id")
    return Ping(hook_id=hook_id if isinstance(hook_id, int) else None, zen=str(p.get("zen", "")))


def _pull_request(p: Mapping[str, Any]) -> Event:
    pr = _obj(p, "pull_request")
    head, base = _obj(pr, "head", "pull_request."), _obj(pr, "base", "pull_request.")
    return PullRequestEvent(
        action=_str(p, "action"),
        installation_id=_installation(p),
        repo=_repo(p),
        number=_int(pr, "number", "pull_request."),
        head_sha=_str(head, "sha", "pull_request.head."),
        base_sha=_str(base, "sha", "pull_request.base."),
        base_ref=_str(base, "ref", "pull_request.base."),
        draft=bool(pr.get("draft", False)),
        state=str(pr.get("state", "open")),
        sender=_login(p.get("sender")),
        repo_id=_repo_id(p),
    )


def _issue_comment(p: Mapping[str, Any]) -> Event:
    issue, comment = _obj(p, "issue"), _obj(p, "comment")
    return CommentEvent(
        event="issue_comment",
        action=_str(p, "action"),
        installation_id=_installation(p),
        repo=_repo(p),
        number=_int(issue, "number", "issue."),
        # GitHub models pull requests as issues; only a PR's issue carries a "pull_request" key.
        on_pull_request=isinstance(issue.get("pull_request"), Mapping),
        comment_id=_int(comment, "id", "comment."),
        body=str(comment.get("body") or ""),
        author=_login(comment.get("user")),
        association=_opt_str(comment, "author_association"),
        pull_author=_login(issue.get("user")) or None,
        repo_id=_repo_id(p),
    )


def _review_comment(p: Mapping[str, Any]) -> Event:
    pr, comment = _obj(p, "pull_request"), _obj(p, "comment")
    line = comment.get("line")
    if not isinstance(line, int):
        line = comment.get("original_line") if isinstance(comment.get("original_line"), int) else None
    return CommentEvent(
        event="pull_request_review_comment",
        action=_str(p, "action"),
        installation_id=_installation(p),
        repo=_repo(p),
        number=_int(pr, "number", "pull_request."),
        on_pull_request=True,
        comment_id=_int(comment, "id", "comment."),
        body=str(comment.get("body") or ""),
        author=_login(comment.get("user")),
        path=_opt_str(comment, "path"),
        line=line,
        commit_id=_opt_str(comment, "commit_id"),
        association=_opt_str(comment, "author_association"),
        pull_author=_login(pr.get("user")) or None,
        repo_id=_repo_id(p),
    )


def _push(p: Mapping[str, Any]) -> Event:
    repository = _obj(p, "repository")
    after = _str(p, "after")
    return PushEvent(
        installation_id=_installation(p),
        repo=_repo(p),
        ref=_str(p, "ref"),
        before=_str(p, "before"),
        after=after,
        default_branch=_str(repository, "default_branch", "repository."),
        deleted=bool(p.get("deleted")) or after == ZERO_SHA,
        sender=_login(p.get("sender")),
        repo_id=_repo_id(p),
    )


def _review_thread(p: Mapping[str, Any]) -> Event:
    pr, thread = _obj(p, "pull_request"), _obj(p, "thread")
    comments = thread.get("comments")
    if not isinstance(comments, list):
        raise PayloadError("payload field thread.comments is missing or not a list")
    root = next(
        (
            c
            for c in comments[:_THREAD_ROOT_SCAN]
            if isinstance(c, Mapping) and not isinstance(c.get("in_reply_to_id"), int)
        ),
        None,
    )
    body = str(root.get("body") or "") if root is not None else ""
    return ReviewThreadEvent(
        action=_str(p, "action"),
        installation_id=_installation(p),
        repo=_repo(p),
        number=_int(pr, "number", "pull_request."),
        sender=_login(p.get("sender")),
        root_author=_login(root.get("user")) if root is not None else "",
        root_comment_id=_id(root.get("id")) if root is not None else None,
        fingerprints=tuple(find_fingerprints(body)[:MAX_THREAD_FINGERPRINTS]),
        repo_id=_repo_id(p),
    )


def _installation_event(p: Mapping[str, Any]) -> Event:
    action = _str(p, "action")
    repos = _repo_names(p, "repositories")
    installation_id = _installation(p)
    if installation_id is None:
        raise PayloadError("an 'installation' payload needs installation.id")
    ids = _repo_ids(p, "repositories")
    if action == "created":
        return InstallationEvent("installation", action, installation_id, repos, (), ids)
    if action == "deleted":
        return InstallationEvent("installation", action, installation_id, (), repos, ids)
    return Unhandled("installation", action)


def _installation_repositories(p: Mapping[str, Any]) -> Event:
    installation_id = _installation(p)
    if installation_id is None:
        raise PayloadError("an 'installation_repositories' payload needs installation.id")
    return InstallationEvent(
        "installation_repositories",
        _str(p, "action"),
        installation_id,
        _repo_names(p, "repositories_added"),
        _repo_names(p, "repositories_removed"),
        {**_repo_ids(p, "repositories_added"), **_repo_ids(p, "repositories_removed")},
    )


_PARSERS = {
    "ping": _ping,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "pull_request_review_comment": _review_comment,
    "pull_request_review_thread": _review_thread,
    "push": _push,
    "installation": _installation_event,
    "installation_repositories": _installation_repositories,
}


# --- field readers: each names the missing or mistyped field -------------------------------


def _obj(p: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = p.get(key)
    if not isinstance(value, Mapping):
        raise PayloadError(f"payload field {where}{key} is missing or not an object")
    return value


def _str(p: Mapping[str, Any], key: str, where: str = "") -> str:
    value = p.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"payload field {where}{key} is missing or not a non-empty string")
    return value


def _opt_str(p: Mapping[str, Any], key: str) -> str | None:
    value = p.get(key)
    return value if isinstance(value, str) and value else None


def _int(p: Mapping[str, Any], key: str, where: str = "") -> int:
    value = p.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"payload field {where}{key} is missing or not an integer")
    return value


def _installation(p: Mapping[str, Any]) -> int | None:
    # Absent for repository webhooks used with a token instead of a GitHub App.
    installation = p.get("installation")
    if isinstance(installation, Mapping) and isinstance(installation.get("id"), int):
        return int(installation["id"])
    return None


def _repo(p: Mapping[str, Any]) -> str:
    return _str(_obj(p, "repository"), "full_name", "repository.")


def _id(value: object) -> int | None:
    """A GitHub numeric id (a positive integer), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _repo_id(p: Mapping[str, Any]) -> int | None:
    # Names collections (core.domain.RepoRef); absent from hand-made payloads, so optional.
    repository = p.get("repository")
    return _id(repository.get("id")) if isinstance(repository, Mapping) else None


def _login(user: object) -> str:
    if isinstance(user, Mapping) and isinstance(user.get("login"), str):
        return str(user["login"])
    return ""


def _repo_names(p: Mapping[str, Any], key: str) -> tuple[str, ...]:
    items = p.get(key) or []
    if not isinstance(items, list):
        raise PayloadError(f"payload field {key} is not a list")
    names = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("full_name"), str):
            names.append(str(item["full_name"]))
        else:
            raise PayloadError(f"an entry of {key} has no full_name")
    return tuple(names)


def _repo_ids(p: Mapping[str, Any], key: str) -> dict[str, int]:
    """``{full_name: id}`` of the entries of ``key`` that carry an id (``_repo_names`` checked the list)."""
    ids: dict[str, int] = {}
    for item in p.get(key) or []:
        repo_id = _id(item.get("id"))
        if repo_id is not None:
            ids[str(item["full_name"])] = repo_id
    return ids
