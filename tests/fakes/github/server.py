"""The fake GitHub served over HTTP on loopback, for PyGithub and httpx to talk to for real.

One catch-all FastAPI route dispatches to handlers by method and path, so that every request is
recorded (``FakeGitHubServer.exchanges``) with its body and the answer it got. The REST API lives
under ``/api/v3`` and GraphQL at ``/api/graphql``, as on GitHub Enterprise Server, so that
``Github(base_url=server.api_url)`` finds both. Run it in a thread::

    with FakeGitHubServer(FakeGitHub()) as server:
        client = GitHubClient.connect(token, api_url=server.api_url, ...)
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jwt
import uvicorn
from fastapi import FastAPI, Request, Response

from tests.fakes.github.state import (
    REACTION_CONTENTS,
    FakeGitHub,
    FakePull,
    FakeRepo,
    error_json,
    now_iso,
    right_side_lines,
)

API_PREFIX = "/api/v3"
GRAPHQL_PATH = "/api/graphql"
MINIMIZE_CLASSIFIERS = {"SPAM", "ABUSE", "OFF_TOPIC", "OUTDATED", "DUPLICATE", "RESOLVED"}
REACTIONS = set(REACTION_CONTENTS)


@dataclass
class Exchange:
    """One request the fake received and what it answered."""

    method: str
    path: str  # without the /api/v3 prefix; "/graphql" for GraphQL
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    response: Any
    graphql: bool = False


@dataclass
class _Ctx:
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    login: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hold:
    """Requests matching ``method`` and ``path`` (a regex over the REST path) wait until
    ``release`` is set; ``reached`` is set when the first one arrives. Tests use it to act while a
    client is in the middle of a request (e.g. kill a worker mid-review)."""

    method: str
    path: re.Pattern[str]
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path) is not None


@dataclass
class Fault:
    """The next ``times`` requests matching ``method`` and ``path`` (a regex over the REST path)
    are answered with ``status`` (and ``headers``, e.g. ``Retry-After``) instead of the real
    answer. ``after_write``: the request is handled first (its write happens) and only the
    answer is replaced, as when GitHub did the work but the reply was lost in a 502.
    ``hits`` counts the requests it answered."""

    method: str
    path: re.Pattern[str]
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    after_write: bool = False
    message: str = "injected failure"
    hits: int = 0

    def take(self, method: str, path: str) -> bool:
        if self.hits >= self.times or method != self.method or self.path.fullmatch(path) is None:
            return False
        self.hits += 1
        return True


Result = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[[_Ctx], Result]


class HttpError(Exception):
    def __init__(self, status: int, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


class FakeGitHubApp:
    """Request handling on top of a ``FakeGitHub`` state."""

    def __init__(self, state: FakeGitHub) -> None:
        self.state = state
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self.templates: list[tuple[str, str]] = []  # (method, path template) the fake serves
        self.holds: list[Hold] = []
        self.faults: list[Fault] = []
        r = self._route
        r("POST", "/app/installations/{installation_id}/access_tokens", self.create_token, auth=False)
        r("GET", "/repos/{owner}/{repo}", self.get_repo)
        r("GET", "/repos/{owner}/{repo}/pulls", self.list_pulls)
        r("GET", "/repos/{owner}/{repo}/pulls/{number}", self.get_pull)
        r("POST", "/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies", self.reply_review_comment)
        r("GET", "/repos/{owner}/{repo}/pulls/{number}/files", self.list_files)
        r("GET", "/repos/{owner}/{repo}/pulls/{number}/comments", self.list_review_comments)
        r("POST", "/repos/{owner}/{repo}/pulls/{number}/comments", self.create_review_comment)
        r("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews", self.list_reviews)
        r("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews", self.create_review)
        r("DELETE", "/repos/{owner}/{repo}/pulls/comments/{comment_id}", self.delete_review_comment)
        r("GET", "/repos/{owner}/{repo}/issues/{number}/comments", self.list_issue_comments)
        r("POST", "/repos/{owner}/{repo}/issues/{number}/comments", self.create_issue_comment)
        r("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", self.edit_issue_comment)
        r("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", self.create_reaction)
        r("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", self.create_review_reaction)
        r("GET", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", self.list_review_reactions)
        r("GET", "/repos/{owner}/{repo}/contents/{path:path}", self.get_content)
        r("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", self.get_permission)
        self.app = FastAPI()
        self.app.add_api_route("/{full_path:path}", self._dispatch, methods=["GET", "POST", "PATCH", "PUT", "DELETE"])

    def _route(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        self.templates.append((method, template.replace(":path}", "}")))
        pattern = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", template)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{pattern}$"), handler, auth))

    # --- dispatch -----------------------------------------------------------------------------
    async def _dispatch(self, request: Request, full_path: str) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = "/" + full_path
        query = dict(request.query_params)
        headers = {k.lower(): v for k, v in request.headers.items()}
        graphql = path == GRAPHQL_PATH
        rest_path = "/graphql" if graphql else (path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path)
        extra: dict[str, str] = {}
        for hold in [h for h in self.holds if h.matches(request.method, rest_path)]:
            hold.reached.set()
            while not hold.release.is_set():  # without blocking the event loop: other requests go on
                await asyncio.sleep(0.02)
        with self._lock:
            fault = next((f for f in self.faults if f.take(request.method, rest_path)), None)
            try:
                if fault is not None and not fault.after_write:
                    raise HttpError(fault.status, fault.message)
                status, payload, extra = self._handle(request.method, path, rest_path, query, headers, body, graphql)
            except HttpError as exc:
                status, payload = exc.status, error_json(exc.message, errors=exc.errors, status=exc.status)
            if fault is not None:
                status, payload = fault.status, error_json(fault.message, status=fault.status)
                extra = dict(fault.headers)
            self.exchanges.append(Exchange(request.method, rest_path, query, headers, body, status, payload, graphql))
        if status == 204:
            return Response(status_code=204, headers=extra)
        return Response(json.dumps(payload), status_code=status, media_type="application/json", headers=extra)

    def _handle(
        self,
        method: str,
        path: str,
        rest_path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        graphql: bool,
    ) -> tuple[int, Any, dict[str, str]]:
        if graphql:
            status, payload = self.graphql(_Ctx({}, query, body, self._login(headers, required=True), headers))
            return status, payload, {}
        if not path.startswith(API_PREFIX + "/"):
            raise HttpError(404, "Not Found")
        for m, pattern, handler, auth in self._routes:
            found = pattern.match(rest_path)
            if m == method and found:
                ctx = _Ctx(found.groupdict(), query, body, self._login(headers, required=auth), headers)
                result = handler(ctx)
                return (result[0], result[1], result[2] if len(result) == 3 else {})  # type: ignore[misc]
        raise HttpError(404, "Not Found")

    def _login(self, headers: dict[str, str], *, required: bool) -> str | None:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        login = self.state.tokens.get(token) if scheme.lower() in ("token", "bearer") else None
        if required and login is None:
            raise HttpError(401, "Bad credentials")
        return login

    # --- helpers ------------------------------------------------------------------------------
    def _repo(self, ctx: _Ctx) -> FakeRepo:
        repo = self.state.repos.get(f"{ctx.params['owner']}/{ctx.params['repo']}")
        if repo is None:
            raise HttpError(404, "Not Found")
        return repo

    def _pull(self, ctx: _Ctx) -> tuple[FakeRepo, FakePull]:
        repo = self._repo(ctx)
        pull = repo.pulls.get(int(ctx.params["number"]))
        if pull is None:
            raise HttpError(404, "Not Found")
        return repo, pull

    def _page(self, ctx: _Ctx, items: list[Any], url: str) -> Result:
        per_page = max(1, min(100, int(ctx.query.get("per_page", 30))))
        page = max(1, int(ctx.query.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        if page * per_page < len(items):
            headers["Link"] = f'<{url}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, chunk, headers

    @staticmethod
    def _require_body(ctx: _Ctx, *keys: str) -> dict[str, Any]:
        if not isinstance(ctx.body, dict):
            raise HttpError(400, "Problems parsing JSON")
        missing = [k for k in keys if k not in ctx.body]
        if missing:
            raise HttpError(
                422, "Invalid request.", [{"resource": "Request", "field": missing[0], "code": "missing_field"}]
            )
        return ctx.body

    # --- App authentication -------------------------------------------------------------------
    def create_token(self, ctx: _Ctx) -> Result:
        scheme, _, token = ctx.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.state.app_public_key is None:
            raise HttpError(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                token, self.state.app_public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError as exc:
            raise HttpError(401, f"A JSON web token could not be decoded ({type(exc).__name__})") from None
        if str(claims["iss"]) != str(self.state.app_id) or claims["exp"] - claims["iat"] > 600:
            raise HttpError(401, "'Expiration time' claim ('exp') is too far in the future")
        installation = int(ctx.params["installation_id"])
        if not any(r.installation_id == installation for r in self.state.repos.values()):
            raise HttpError(404, "Not Found")
        issued = self.state.issue_token(installation)
        return 201, {
            "token": issued["token"],
            "expires_at": issued["expires_at"],
            "permissions": {"contents": "read", "pull_requests": "write", "issues": "write", "metadata": "read"},
            "repository_selection": "all",
        }

    # --- repositories and pull requests -------------------------------------------------------
    def get_repo(self, ctx: _Ctx) -> Result:
        return 200, self.state.repo_json(self._repo(ctx), full=True)

    def get_pull(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        return 200, self.state.pull_json(repo, pull)

    def list_pulls(self, ctx: _Ctx) -> Result:
        repo = self._repo(ctx)
        state = ctx.query.get("state", "open")
        pulls = [p for p in repo.pulls.values() if state == "all" or p.state == state]
        items = [self.state.pull_json(repo, p) for p in sorted(pulls, key=lambda p: -p.number)]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/pulls")

    def list_files(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        items = [self.state.file_json(repo, pull, f) for f in pull.files]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/pulls/{pull.number}/files")

    def list_review_comments(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        items = [self.state.review_comment_json(c) for c in self.state.comments_on(repo.full_name, pull.number)]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/pulls/{pull.number}/comments")

    def list_reviews(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        items = [self.state.review_json(r) for r in self.state.reviews_on(repo.full_name, pull.number)]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/pulls/{pull.number}/reviews")

    def _check_placement(self, pull: FakePull, commit_id: str, path: str, line: Any, side: str) -> str | None:
        """Why GitHub would refuse a comment here, or ``None`` when it would accept it."""
        if commit_id not in pull.heads:
            return "commit_id is not part of the pull request"
        f = pull.file(path)
        if f is None:
            return "Path could not be resolved"
        if side != "RIGHT" or not isinstance(line, int) or line not in right_side_lines(f.patch):
            return "Line could not be resolved"
        if (path, line) in pull.reject_lines:
            return "Line could not be resolved"
        return None

    def create_review(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        body = self._require_body(ctx)
        commit_id = body.get("commit_id", pull.head_sha)
        comments = body.get("comments") or []
        event = body.get("event")
        if event not in (None, "COMMENT", "APPROVE", "REQUEST_CHANGES"):
            raise HttpError(422, "Unprocessable Entity", [f"event {event!r} is not valid"])
        if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body") and not comments:
            raise HttpError(422, "Unprocessable Entity", ["Body is required for event type COMMENT"])
        for c in comments:
            problem = self._check_placement(pull, commit_id, c.get("path", ""), c.get("line"), c.get("side", "RIGHT"))
            if problem:  # GitHub refuses the whole review when one comment cannot be placed
                raise HttpError(422, "Unprocessable Entity", [problem])
        rid = self.state.next_id()
        review = {
            "id": rid,
            "repo": repo.full_name,
            "number": pull.number,
            "login": ctx.login,
            "body": body.get("body") or "",
            "state": "COMMENTED" if event == "COMMENT" else ("PENDING" if event is None else event),
            "commit_id": commit_id,
            "submitted_at": now_iso(),
        }
        self.state.reviews[rid] = review
        for c in comments:
            self.state.add_review_comment(
                repo.full_name,
                pull.number,
                login=ctx.login or "",
                body=c["body"],
                path=c["path"],
                line=c["line"],
                commit_id=commit_id,
                in_reply_to=None,
                review_id=rid,
            )
        return 200, self.state.review_json(review)

    def create_review_comment(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        body = self._require_body(ctx, "body")
        if "in_reply_to" in body:
            root = self.state.review_comments.get(int(body["in_reply_to"]))
            if root is None:
                raise HttpError(404, "Not Found")
            record = self.state.reply(repo.full_name, pull.number, root["id"], ctx.login or "", body["body"])
            return 201, self.state.review_comment_json(record)
        body = self._require_body(ctx, "body", "commit_id", "path")
        problem = self._check_placement(
            pull, body["commit_id"], body["path"], body.get("line"), body.get("side", "RIGHT")
        )
        if problem:
            raise HttpError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequestReviewComment",
                        "code": "custom",
                        "field": "pull_request_review_thread.line",
                        "message": problem,
                    }
                ],
            )
        record = self.state.add_review_comment(
            repo.full_name,
            pull.number,
            login=ctx.login or "",
            body=body["body"],
            path=body["path"],
            line=body["line"],
            commit_id=body["commit_id"],
            in_reply_to=None,
            review_id=None,
        )
        return 201, self.state.review_comment_json(record)

    def reply_review_comment(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        body = self._require_body(ctx, "body")
        root = self.state.review_comments.get(int(ctx.params["comment_id"]))
        if root is None or root["repo"] != repo.full_name or root["number"] != pull.number:
            raise HttpError(404, "Not Found")
        record = self.state.reply(repo.full_name, pull.number, root["id"], ctx.login or "", body["body"])
        return 201, self.state.review_comment_json(record)

    def delete_review_comment(self, ctx: _Ctx) -> Result:
        self._repo(ctx)
        cid = int(ctx.params["comment_id"])
        if self.state.review_comments.pop(cid, None) is None:
            raise HttpError(404, "Not Found")
        return 204, None

    # --- issue comments and reactions ---------------------------------------------------------
    def list_issue_comments(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        items = [self.state.issue_comment_json(c) for c in self.state.issue_comments_on(repo.full_name, pull.number)]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/issues/{pull.number}/comments")

    def create_issue_comment(self, ctx: _Ctx) -> Result:
        repo, pull = self._pull(ctx)
        body = self._require_body(ctx, "body")
        record = self.state.add_issue_comment(repo.full_name, pull.number, ctx.login or "", body["body"])
        return 201, self.state.issue_comment_json(record)

    def edit_issue_comment(self, ctx: _Ctx) -> Result:
        repo = self._repo(ctx)
        body = self._require_body(ctx, "body")
        record = self.state.issue_comments.get(int(ctx.params["comment_id"]))
        if record is None or record["repo"] != repo.full_name:
            raise HttpError(404, "Not Found")
        if record["login"] != ctx.login:
            raise HttpError(403, "Resource not accessible by integration")
        record["body"], record["updated_at"] = body["body"], now_iso()
        return 200, self.state.issue_comment_json(record)

    def create_reaction(self, ctx: _Ctx) -> Result:
        return self._react(ctx, self.state.issue_comments)

    def create_review_reaction(self, ctx: _Ctx) -> Result:
        return self._react(ctx, self.state.review_comments)

    def list_review_reactions(self, ctx: _Ctx) -> Result:
        """Reactions on a review comment, oldest first; ``content`` keeps one kind."""
        repo = self._repo(ctx)
        cid = int(ctx.params["comment_id"])
        comment = self.state.review_comments.get(cid)
        if comment is None or comment["repo"] != repo.full_name:
            raise HttpError(404, "Not Found")
        content = ctx.query.get("content")  # an unknown kind matches nothing
        found = [r for r in self.state.reactions if r["comment_id"] == cid and content in (None, r["content"])]
        items = [self.state.reaction_json(r) for r in found]
        return self._page(ctx, items, f"{self.state.api_url}/repos/{repo.full_name}/pulls/comments/{cid}/reactions")

    def _react(self, ctx: _Ctx, comments: dict[int, dict[str, Any]]) -> Result:
        repo = self._repo(ctx)
        body = self._require_body(ctx, "content")
        if body["content"] not in REACTIONS:
            raise HttpError(422, "Validation Failed", [{"resource": "Reaction", "field": "content", "code": "invalid"}])
        cid = int(ctx.params["comment_id"])
        if cid not in comments or comments[cid]["repo"] != repo.full_name:
            raise HttpError(404, "Not Found")
        for r in self.state.reactions:
            if r["comment_id"] == cid and r["login"] == ctx.login and r["content"] == body["content"]:
                return 200, self.state.reaction_json(r)
        reaction = {
            "id": self.state.next_id(),
            "comment_id": cid,
            "login": ctx.login,
            "content": body["content"],
            "created_at": now_iso(),
        }
        self.state.reactions.append(reaction)
        return 201, self.state.reaction_json(reaction)

    # --- contents and permissions -------------------------------------------------------------
    def get_content(self, ctx: _Ctx) -> Result:
        repo = self._repo(ctx)
        ref = ctx.query.get("ref") or repo.default_branch
        path = ctx.params["path"]
        data = repo.contents.get((ref, path))
        if data is None:
            raise HttpError(404, "Not Found")
        return 200, self.state.content_json(repo, path, ref, data)

    def get_permission(self, ctx: _Ctx) -> Result:
        repo = self._repo(ctx)
        login = ctx.params["username"]
        if login not in repo.permissions:
            raise HttpError(404, f"{login} is not a user")
        return 200, self.state.collaborator_json(login, repo.permissions[login])

    # --- GraphQL ------------------------------------------------------------------------------
    def graphql(self, ctx: _Ctx) -> tuple[int, Any]:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        query = body.get("query", "")
        if not re.search(r"\bmutation\b[^{]*\{\s*minimizeComment\s*\(", query):
            return 200, {"errors": [{"message": "the fake GitHub only knows the minimizeComment mutation"}]}
        data = (body.get("variables") or {}).get("input") or {}
        node_id, classifier = data.get("subjectId"), data.get("classifier")
        if classifier not in MINIMIZE_CLASSIFIERS:
            return 200, {"errors": [{"message": f"Argument 'classifier' has an invalid value ({classifier})"}]}
        owner = next(
            (
                c
                for c in [*self.state.review_comments.values(), *self.state.issue_comments.values()]
                if c["node_id"] == node_id
            ),
            None,
        )
        if owner is None:
            return 200, {
                "errors": [
                    {"type": "NOT_FOUND", "message": f"Could not resolve to a node with the global id of '{node_id}'"}
                ]
            }
        self.state.minimized[node_id] = classifier
        return 200, {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}}


class FakeGitHubServer:
    """Runs a ``FakeGitHubApp`` with uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, state: FakeGitHub | None = None) -> None:
        self.state = state or FakeGitHub()
        self.handler = FakeGitHubApp(self.state)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.state.api_url = self.api_url
        config = uvicorn.Config(self.handler.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def exchanges(self) -> list[Exchange]:
        return self.handler.exchanges

    def hold(self, method: str, path: str) -> Hold:
        """Hold every ``method`` request whose REST path matches the regex ``path`` until released."""
        held = Hold(method, re.compile(path))
        self.handler.holds.append(held)
        return held

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        after_write: bool = False,
    ) -> Fault:
        """Answer the next ``times`` ``method`` requests whose REST path matches the regex ``path``
        with ``status`` (see ``Fault``)."""
        fault = Fault(method, re.compile(path), status, times, dict(headers or {}), after_write)
        self.handler.faults.append(fault)
        return fault

    def writes(self) -> list[Exchange]:
        """Requests that change state (everything but GET)."""
        return [e for e in self.exchanges if e.method != "GET"]

    def start(self) -> FakeGitHubServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake GitHub server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeGitHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def quote_path(path: str) -> str:
    return quote(path, safe="/")
