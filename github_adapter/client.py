"""A small facade over PyGithub with exactly the calls doppel makes, returning plain dataclasses.

Callers never see PyGithub objects or exceptions: results are frozen dataclasses and failures are
``GitHubError`` with the HTTP status. One client acts for one installation (one token).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from github import Auth, Github, GithubException

from github_adapter.auth import DEFAULT_API_URL, GitHubConfig, TokenProvider, token_provider, web_url_for
from github_adapter.errors import GitHubAuthError, GitHubError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class PullInfo:
    number: int
    state: str  # "open" | "closed"
    draft: bool
    head_sha: str
    base_sha: str
    head_ref: str
    base_ref: str
    default_branch: str
    author: str


@dataclass(frozen=True)
class PullFile:
    path: str
    status: str  # added | removed | modified | renamed | copied | changed | unchanged
    patch: str | None  # None for binaries and diffs too large for GitHub to send
    previous_path: str | None = None


@dataclass(frozen=True)
class ReviewComment:
    id: int
    node_id: str
    body: str
    path: str
    line: int | None  # None once the comment no longer maps onto the current diff
    author: str
    in_reply_to_id: int | None
    commit_id: str
    # 👍 and 👎 counts of the comment's ``reactions`` summary; ``None`` when GitHub sent none.
    thumbs: tuple[int, int] | None = None


@dataclass(frozen=True)
class Reaction:
    """One reaction on a comment: its ``content`` (``+1``, ``-1``, ``eyes`` ...) and who put it."""

    id: int
    content: str
    login: str
    user_type: str  # "User", or "Bot" for an App's account


@dataclass(frozen=True)
class PullReview:
    """A submitted review of a pull request (its body, not its inline comments)."""

    id: int
    body: str
    author: str
    commit_id: str


@dataclass(frozen=True)
class IssueComment:
    id: int
    node_id: str
    body: str
    author: str


@dataclass(frozen=True)
class InlineComment:
    """A comment to place on the right side of the diff at ``line`` of ``path``."""

    path: str
    line: int
    body: str

    def to_api(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "side": "RIGHT", "body": self.body}


def _translate(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn PyGithub's exceptions into ``GitHubError`` carrying the status and GitHub's message."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            message = exc.message or (exc.data.get("message") if isinstance(exc.data, dict) else None) or ""
            text = f"GitHub {fn.__name__} failed with HTTP {exc.status}: {message}".rstrip(": ")
            cls = GitHubAuthError if exc.status == 401 else GitHubError
            retry_after, reset_at = _rate_limit_hints(exc.headers or {})
            raise cls(text, status=exc.status, retry_after=retry_after, reset_at=reset_at) from exc

    return wrapper


def _rate_limit_hints(headers: dict[str, Any]) -> tuple[float | None, float | None]:
    """``Retry-After`` seconds, and ``X-RateLimit-Reset`` when the quota is spent, from a response."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    reset = lowered.get("x-ratelimit-reset") if lowered.get("x-ratelimit-remaining") == "0" else None
    try:
        return (float(retry_after) if retry_after else None, float(reset) if reset else None)
    except ValueError:
        return None, None


def _login(user: dict[str, Any] | None) -> str:
    return (user or {}).get("login", "")


class GitHubClient:
    """GitHub calls doppel needs, for one token (an installation's or a personal one)."""

    def __init__(self, gh: Github, *, web_url: str) -> None:
        self._gh = gh
        self.web_url = web_url.rstrip("/")

    @classmethod
    def connect(
        cls,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        web_url: str | None = None,
        timeout: int = 15,
        retry: int | None = 3,
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
    ) -> GitHubClient:
        """A client for ``token`` at ``api_url`` (``https://<host>/api/v3`` on GitHub Enterprise Server).

        The pauses between requests and writes follow GitHub's advice against secondary rate
        limits; tests against the fake server set them to ``None``.
        """
        gh = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            retry=retry,
            lazy=True,
            per_page=100,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        return cls(gh, web_url=web_url or web_url_for(api_url))

    def close(self) -> None:
        self._gh.close()

    def _repo(self, slug: str) -> Any:
        return self._gh.get_repo(slug, lazy=True)

    def _get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        _, data = self._gh.requester.requestJsonAndCheck("GET", url, parameters=params)
        return data

    def _get_all(self, url: str) -> list[dict[str, Any]]:
        """Every item of a paginated listing, following ``Link: rel="next"``."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        params: dict[str, Any] | None = {"per_page": 100}
        while next_url:
            headers, data = self._gh.requester.requestJsonAndCheck("GET", next_url, parameters=params)
            items.extend(data)
            next_url, params = _next_link(headers.get("link") or headers.get("Link") or ""), None
        return items

    def _get_some(self, url: str, limit: int) -> list[Any]:
        """At most ``limit`` items of a paginated listing (pages of 100), for listings whose
        length is up to whoever writes on GitHub."""
        items: list[Any] = []
        next_url: str | None = url
        params: dict[str, Any] | None = {"per_page": 100}
        while next_url and len(items) < limit:
            headers, data = self._gh.requester.requestJsonAndCheck("GET", next_url, parameters=params)
            items.extend(data if isinstance(data, list) else [])
            next_url, params = _next_link(headers.get("link") or headers.get("Link") or ""), None
        return items[: max(0, limit)]

    # --- pull requests ------------------------------------------------------------------------
    @_translate
    def pull(self, slug: str, number: int) -> PullInfo:
        return _pull_info(self._get(f"{self._repo(slug).url}/pulls/{number}"))

    @_translate
    def open_pulls(self, slug: str) -> list[PullInfo]:
        """Every open pull request of the repository (for the reconciler)."""
        return [_pull_info(pr) for pr in self._get_all(f"{self._repo(slug).url}/pulls?state=open")]

    @_translate
    def reply_to_review_comment(self, slug: str, number: int, comment_id: int, body: str) -> ReviewComment:
        """Answer in the thread of review comment ``comment_id`` (a ``/similar`` typed on a diff line)."""
        url = f"{self._repo(slug).url}/pulls/{number}/comments/{comment_id}/replies"
        _, data = self._gh.requester.requestJsonAndCheck("POST", url, input={"body": body})
        return _review_comment(data)

    @_translate
    def pull_files(self, slug: str, number: int) -> list[PullFile]:
        return [
            PullFile(
                path=f["filename"], status=f["status"], patch=f.get("patch"), previous_path=f.get("previous_filename")
            )
            for f in self._get_all(f"{self._repo(slug).url}/pulls/{number}/files")
        ]

    @_translate
    def review_comments(self, slug: str, number: int) -> list[ReviewComment]:
        return [_review_comment(c) for c in self._get_all(f"{self._repo(slug).url}/pulls/{number}/comments")]

    @_translate
    def reviews(self, slug: str, number: int) -> list[PullReview]:
        """Every review of the pull request, oldest first."""
        return [
            PullReview(
                id=r["id"], body=r.get("body") or "", author=_login(r.get("user")), commit_id=r.get("commit_id") or ""
            )
            for r in self._get_all(f"{self._repo(slug).url}/pulls/{number}/reviews")
        ]

    @_translate
    def create_review(
        self, slug: str, number: int, *, commit_id: str, body: str, comments: Sequence[InlineComment]
    ) -> int:
        """One review with event COMMENT holding ``comments``; returns the review id. A comment off
        the diff makes GitHub refuse the whole review with 422 (``GitHubError.unprocessable``)."""
        url = f"{self._repo(slug).url}/pulls/{number}/reviews"
        payload = {"commit_id": commit_id, "body": body, "event": "COMMENT", "comments": [c.to_api() for c in comments]}
        _, data = self._gh.requester.requestJsonAndCheck("POST", url, input=payload)
        return int(data["id"])

    @_translate
    def create_review_comment(self, slug: str, number: int, *, commit_id: str, comment: InlineComment) -> ReviewComment:
        """A single inline comment outside any review (the fallback when a batch was refused)."""
        url = f"{self._repo(slug).url}/pulls/{number}/comments"
        payload = {"commit_id": commit_id, **comment.to_api()}
        _, data = self._gh.requester.requestJsonAndCheck("POST", url, input=payload)
        return _review_comment(data)

    # --- issue comments -----------------------------------------------------------------------
    @_translate
    def issue_comments(self, slug: str, number: int) -> list[IssueComment]:
        return [_issue_comment(c) for c in self._get_all(f"{self._repo(slug).url}/issues/{number}/comments")]

    @_translate
    def create_issue_comment(self, slug: str, number: int, body: str) -> IssueComment:
        url = f"{self._repo(slug).url}/issues/{number}/comments"
        _, data = self._gh.requester.requestJsonAndCheck("POST", url, input={"body": body})
        return _issue_comment(data)

    @_translate
    def edit_issue_comment(self, slug: str, comment_id: int, body: str) -> None:
        url = f"{self._repo(slug).url}/issues/comments/{comment_id}"
        self._gh.requester.requestJsonAndCheck("PATCH", url, input={"body": body})

    @_translate
    def add_reaction(self, slug: str, comment_id: int, content: str) -> None:
        """React to an issue comment (e.g. ``eyes`` on a ``/similar`` command being worked on)."""
        url = f"{self._repo(slug).url}/issues/comments/{comment_id}/reactions"
        self._gh.requester.requestJsonAndCheck("POST", url, input={"content": content})

    @_translate
    def add_review_comment_reaction(self, slug: str, comment_id: int, content: str) -> None:
        """React to a review comment (a ``/similar`` typed on a diff line)."""
        url = f"{self._repo(slug).url}/pulls/comments/{comment_id}/reactions"
        self._gh.requester.requestJsonAndCheck("POST", url, input={"content": content})

    @_translate
    def review_comment_reactions(self, slug: str, comment_id: int, *, limit: int = 100) -> list[Reaction]:
        """The first ``limit`` reactions on review comment ``comment_id``, oldest first (GitHub
        sends no webhook for reactions: feedback polls this). At most ``ceil(limit / 100)`` pages."""
        url = f"{self._repo(slug).url}/pulls/comments/{comment_id}/reactions"
        return [_reaction(r) for r in self._get_some(url, limit) if isinstance(r, dict)]

    @_translate
    def minimize_comment(self, node_id: str, classifier: str = "OUTDATED") -> bool:
        """Hide a comment as outdated (GraphQL ``minimizeComment``); works for review and issue comments."""
        _, data = self._gh.requester.graphql_named_mutation(
            "minimizeComment",
            {"subjectId": node_id, "classifier": classifier},
            "minimizedComment { isMinimized }",
        )
        return bool((data.get("minimizedComment") or {}).get("isMinimized"))

    # --- repository ---------------------------------------------------------------------------
    @_translate
    def default_branch(self, slug: str) -> str:
        return self._gh.get_repo(slug, lazy=False).default_branch

    def file_text(self, slug: str, path: str, ref: str) -> str | None:
        """The text of ``path`` at ``ref``, or ``None`` when there is no such file."""
        try:
            content = self._file(slug, path, ref)
        except GitHubError as exc:
            if exc.not_found:
                return None
            raise
        return content

    @_translate
    def _file(self, slug: str, path: str, ref: str) -> str | None:
        found = self._repo(slug).get_contents(path, ref=ref)
        if isinstance(found, list) or found.type != "file":
            return None
        return found.decoded_content.decode("utf-8", "replace")

    @_translate
    def permission(self, slug: str, username: str) -> str:
        """``admin``, ``write``, ``read`` or ``none``: may ``username`` drive the bot on this repository?"""
        try:
            return self._repo(slug).get_collaborator_permission(username)
        except GithubException as exc:
            if exc.status == 404:
                return "none"
            raise


class GitHubAccess:
    """Clients per installation from one ``GitHubConfig``: build once per process, ask per job.

    Installation tokens come from the provider's cache, so a client made for each job always
    holds a token that is good for the job's length.
    """

    def __init__(self, config: GitHubConfig, *, provider: TokenProvider | None = None, **client_options: Any) -> None:
        self.config = config
        self.provider = provider or token_provider(config)
        self._options = client_options

    def token(self, installation_id: int | None) -> str:
        return self.provider.token(installation_id)

    def client(self, installation_id: int | None) -> GitHubClient:
        return GitHubClient.connect(
            self.token(installation_id), api_url=self.config.api_url, web_url=self.config.web, **self._options
        )


def _review_comment(c: dict[str, Any]) -> ReviewComment:
    return ReviewComment(
        id=c["id"],
        node_id=c["node_id"],
        body=c.get("body") or "",
        path=c["path"],
        line=c.get("line"),
        author=_login(c.get("user")),
        in_reply_to_id=c.get("in_reply_to_id"),
        commit_id=c["commit_id"],
        thumbs=_thumbs(c.get("reactions")),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _thumbs(rollup: object) -> tuple[int, int] | None:
    """(👍, 👎) of a ``reaction-rollup``, or ``None`` when the comment came without one."""
    if not isinstance(rollup, dict):
        return None
    return _count(rollup.get("+1")), _count(rollup.get("-1"))


def _reaction(r: dict[str, Any]) -> Reaction:
    raw = r.get("user")
    user: dict[str, Any] = raw if isinstance(raw, dict) else {}  # null for a deleted account
    return Reaction(
        id=_count(r.get("id")),
        content=str(r.get("content") or "")[:20],
        login=str(user.get("login") or "")[:100],
        user_type=str(user.get("type") or "")[:20],
    )


def _issue_comment(c: dict[str, Any]) -> IssueComment:
    return IssueComment(id=c["id"], node_id=c["node_id"], body=c.get("body") or "", author=_login(c.get("user")))


def _next_link(link_header: str) -> str | None:
    for part in link_header.split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


def _pull_info(pr: dict[str, Any]) -> PullInfo:
    return PullInfo(
        number=pr["number"],
        state=pr["state"],
        draft=bool(pr.get("draft")),
        head_sha=pr["head"]["sha"],
        base_sha=pr["base"]["sha"],
        head_ref=pr["head"]["ref"],
        base_ref=pr["base"]["ref"],
        default_branch=pr["base"]["repo"]["default_branch"],
        author=_login(pr.get("user")),
    )
