"""The fake GitHub's state and the JSON shapes it answers with.

State is plain Python (repositories, pull requests with their files and patches, reviews, review
comments with reply threads, issue comments, reactions, file contents per ref, collaborator
permissions, App installations and the tokens they were issued). The JSON builders follow
GitHub's REST description closely enough that every response validates against the schemas of
``@octokit/openapi`` (``tests/integration/test_fake_github_openapi.py`` keeps it so).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

REACTION_CONTENTS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
DOCS = "https://docs.github.com/rest"


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def right_side_lines(patch: str | None) -> set[int]:
    """Lines of the new file that a review comment may sit on (added + context lines in hunks).

    Written apart from ``github_adapter.anchors`` on purpose: the fake must not share the code it checks.
    """
    lines: set[int] = set()
    current = None
    for raw in (patch or "").split("\n"):
        m = _HUNK.match(raw)
        if m:
            current = int(m.group(1))
            continue
        if current is None or raw.startswith("\\") or raw.startswith("-"):
            continue
        lines.add(current)
        current += 1
    return lines


def count_changes(patch: str | None) -> tuple[int, int]:
    body = [ln for ln in (patch or "").split("\n") if not ln.startswith("@@")]
    return sum(ln.startswith("+") for ln in body), sum(ln.startswith("-") for ln in body)


@dataclass
class FakeUser:
    login: str
    id: int
    type: str = "User"  # "Bot" for App accounts


@dataclass
class FakeFile:
    path: str
    patch: str | None
    status: str = "modified"
    previous_path: str | None = None


@dataclass
class FakePull:
    number: int
    head_sha: str
    base_sha: str
    files: list[FakeFile]
    author: str = "alice"
    head_ref: str = "feature"
    base_ref: str = "main"
    title: str = "A change"
    state: str = "open"
    draft: bool = False
    heads: list[str] = field(default_factory=list)  # every head the pull request had, oldest first
    reject_lines: set[tuple[str, int]] = field(default_factory=set)  # lines GitHub refuses despite the patch

    def file(self, path: str) -> FakeFile | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass
class FakeRepo:
    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    installation_id: int | None = None
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (ref, path) → bytes
    permissions: dict[str, str] = field(default_factory=dict)  # login → admin|write|read
    pulls: dict[int, FakePull] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub:
    """All the state behind one fake GitHub host. Test code arranges it and reads it back."""

    def __init__(self, *, web_url: str = "https://github.example.test") -> None:
        self.api_url = ""  # set by the server once it listens
        self.web_url = web_url
        self._ids = itertools.count(1000)
        self.users: dict[str, FakeUser] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.review_comments: dict[int, dict[str, Any]] = {}  # id → internal record
        self.issue_comments: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self.minimized: dict[str, str] = {}  # node_id → classifier
        self.tokens: dict[str, str] = {}  # accepted token → login acting
        self.app_id: int | None = None
        self.app_public_key: Any = None  # cryptography public key; JWTs are checked against it
        self.app_slug = "doppel"
        self.installation_tokens: list[dict[str, Any]] = []

    # --- arranging ----------------------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str, type_: str = "User") -> FakeUser:
        if login not in self.users:
            self.users[login] = FakeUser(login=login, id=self.next_id(), type=type_)
        return self.users[login]

    def add_token(self, token: str, login: str, type_: str = "User") -> None:
        self.user(login, type_)
        self.tokens[token] = login

    def configure_app(self, app_id: int, public_key: Any, slug: str = "doppel") -> None:
        self.app_id, self.app_public_key, self.app_slug = app_id, public_key, slug
        self.user(f"{slug}[bot]", "Bot")

    def add_repo(self, full_name: str, **kwargs: Any) -> FakeRepo:
        owner, name = full_name.split("/")
        self.user(owner)
        repo = FakeRepo(owner=owner, name=name, id=self.next_id(), **kwargs)
        self.repos[full_name] = repo
        return repo

    def add_pull(
        self, full_name: str, number: int, *, head_sha: str, base_sha: str, files: list[FakeFile], **kw: Any
    ) -> FakePull:
        pull = FakePull(number=number, head_sha=head_sha, base_sha=base_sha, files=files, **kw)
        pull.heads.append(head_sha)
        self.user(pull.author)
        self.repos[full_name].pulls[number] = pull
        return pull

    def push(self, full_name: str, number: int, head_sha: str, files: list[FakeFile] | None = None) -> None:
        """A new head for the pull request (a push or a force-push after a rebase)."""
        pull = self.repos[full_name].pulls[number]
        pull.head_sha = head_sha
        pull.heads.append(head_sha)
        if files is not None:
            pull.files = files

    def reply(self, full_name: str, number: int, comment_id: int, login: str, body: str) -> dict[str, Any]:
        """Someone answers a review comment thread."""
        root = self.review_comments[comment_id]
        return self.add_review_comment(
            full_name,
            number,
            login=login,
            body=body,
            path=root["path"],
            line=root["line"],
            commit_id=root["commit_id"],
            in_reply_to=comment_id,
            review_id=None,
        )

    # --- recording ----------------------------------------------------------------------------
    def add_review_comment(
        self,
        full_name: str,
        number: int,
        *,
        login: str,
        body: str,
        path: str,
        line: int,
        commit_id: str,
        in_reply_to: int | None,
        review_id: int | None,
    ) -> dict[str, Any]:
        cid = self.next_id()
        pull = self.repos[full_name].pulls[number]
        f = pull.file(path)
        record = {
            "id": cid,
            "node_id": f"PRRC_{cid}",
            "repo": full_name,
            "number": number,
            "login": login,
            "body": body,
            "path": path,
            "line": line,
            "commit_id": commit_id,
            "in_reply_to": in_reply_to,
            "review_id": review_id,
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "diff_hunk": (f.patch or "").split("\n", 1)[0] if f else "",
        }
        self.review_comments[cid] = record
        return record

    def add_issue_comment(self, full_name: str, number: int, login: str, body: str) -> dict[str, Any]:
        cid = self.next_id()
        record = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "repo": full_name,
            "number": number,
            "login": login,
            "body": body,
            "created_at": now_iso(),
            "updated_at": now_iso(),
        }
        self.issue_comments[cid] = record
        return record

    def react(self, comment_id: int, login: str, content: str, *, type_: str = "User") -> dict[str, Any]:
        """``login`` puts a reaction on a comment (as GitHub's UI would: once per person and content)."""
        if content not in REACTION_CONTENTS:
            raise ValueError(f"GitHub has no {content!r} reaction")
        self.user(login, type_)
        for r in self.reactions:
            if r["comment_id"] == comment_id and r["login"] == login and r["content"] == content:
                return r
        reaction = {
            "id": self.next_id(), "comment_id": comment_id, "login": login, "content": content, "created_at": now_iso(),
        }  # fmt: skip
        self.reactions.append(reaction)
        return reaction

    def unreact(self, comment_id: int, login: str, content: str) -> None:
        """``login`` takes their reaction back."""
        self.reactions = [
            r
            for r in self.reactions
            if not (r["comment_id"] == comment_id and r["login"] == login and r["content"] == content)
        ]

    def review_thread_payload(
        self, comment_id: int, action: str, sender: str, *, installation_id: int | None = None
    ) -> dict[str, Any]:
        """The ``pull_request_review_thread`` webhook GitHub sends when ``sender`` resolves (or
        unresolves) the thread that review comment ``comment_id`` starts, shaped as in
        ``@octokit/webhooks-examples``: the pull request, the thread's node id and its comments."""
        root = self.review_comments[comment_id]
        repo = self.repos[root["repo"]]
        pull = repo.pulls[root["number"]]
        thread = [root, *(c for c in self.review_comments.values() if c["in_reply_to"] == comment_id)]
        payload: dict[str, Any] = {
            "action": action,
            "pull_request": self.pull_json(repo, pull),
            "thread": {"node_id": f"PRRT_{comment_id}", "comments": [self.review_comment_json(c) for c in thread]},
            "repository": self.repo_json(repo),
            "sender": self.user_json(sender),
        }
        installation = installation_id if installation_id is not None else repo.installation_id
        if installation is not None:
            payload["installation"] = {
                "id": installation,
                "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installation}",
            }
        return payload

    def issue_token(self, installation_id: int) -> dict[str, Any]:
        token = "ghs_" + secrets.token_hex(18)
        self.tokens[token] = f"{self.app_slug}[bot]"
        issued = {"token": token, "expires_at": now_iso(timedelta(hours=1)), "installation_id": installation_id}
        self.installation_tokens.append(issued)
        return issued

    # --- reading back (for assertions) --------------------------------------------------------
    def comments_on(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.review_comments.values() if c["repo"] == full_name and c["number"] == number]

    def issue_comments_on(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.issue_comments.values() if c["repo"] == full_name and c["number"] == number]

    def reviews_on(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return [r for r in self.reviews.values() if r["repo"] == full_name and r["number"] == number]

    # --- JSON shapes --------------------------------------------------------------------------
    def user_json(self, login: str) -> dict[str, Any]:
        u = self.user(login)
        api, web = self.api_url, self.web_url
        return {
            "login": u.login,
            "id": u.id,
            "node_id": f"U_{u.id}",
            "avatar_url": f"{web}/avatars/{u.id}",
            "gravatar_id": "",
            "url": f"{api}/users/{u.login}",
            "html_url": f"{web}/{u.login}",
            "followers_url": f"{api}/users/{u.login}/followers",
            "following_url": f"{api}/users/{u.login}/following{{/other_user}}",
            "gists_url": f"{api}/users/{u.login}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{u.login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{u.login}/subscriptions",
            "organizations_url": f"{api}/users/{u.login}/orgs",
            "repos_url": f"{api}/users/{u.login}/repos",
            "events_url": f"{api}/users/{u.login}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{u.login}/received_events",
            "type": u.type,
            "site_admin": False,
            "user_view_type": "public",
        }

    def repo_json(self, repo: FakeRepo, *, full: bool = False) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        base = f"{api}/repos/{repo.full_name}"
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user_json(repo.owner),
            "private": repo.private,
            "html_url": f"{web}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": base,
            "homepage": None,
            "language": "Python",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "forks_count": 0,
            "open_issues": len(repo.pulls),
            "open_issues_count": len(repo.pulls),
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 1,
            "archived": False,
            "disabled": False,
            "mirror_url": None,
            "license": None,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "pushed_at": "2024-01-01T00:00:00Z",
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "clone_url": f"{web}/{repo.full_name}.git",
            "git_url": f"git://{web.split('://', 1)[-1]}/{repo.full_name}.git",
            "ssh_url": f"git@{web.split('://', 1)[-1]}:{repo.full_name}.git",
            "svn_url": f"{web}/{repo.full_name}",
        }
        for key, suffix in _REPO_LINKS.items():
            data[key] = f"{base}/{suffix}"
        if full:
            data.update({"network_count": 0, "subscribers_count": 0})
        return data

    def pull_json(self, repo: FakeRepo, pull: FakePull) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        url = f"{api}/repos/{repo.full_name}/pulls/{pull.number}"
        html = f"{web}/{repo.full_name}/pull/{pull.number}"
        issue = f"{api}/repos/{repo.full_name}/issues/{pull.number}"
        adds = sum(count_changes(f.patch)[0] for f in pull.files)
        dels = sum(count_changes(f.patch)[1] for f in pull.files)

        def side(ref: str, sha: str) -> dict[str, Any]:
            return {
                "label": f"{repo.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self.user_json(repo.owner),
                "repo": self.repo_json(repo),
            }

        return {
            "url": url,
            "id": repo.id * 1000 + pull.number,
            "node_id": f"PR_{repo.id}_{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/repos/{repo.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue}/comments",
            "statuses_url": f"{api}/repos/{repo.full_name}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": None,
            "user": self.user_json(pull.author),
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": "2024-01-02T00:00:00Z",
            "updated_at": now_iso(),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": side(pull.head_ref, pull.head_sha),
            "base": side(pull.base_ref, pull.base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue},
                "comments": {"href": f"{issue}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{api}/repos/{repo.full_name}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{api}/repos/{repo.full_name}/statuses/{pull.head_sha}"},
            },
            "author_association": "CONTRIBUTOR",
            "auto_merge": None,
            "draft": pull.draft,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": 0,
            "review_comments": len(self.comments_on(repo.full_name, pull.number)),
            "maintainer_can_modify": False,
            "commits": len(pull.heads),
            "additions": adds,
            "deletions": dels,
            "changed_files": len(pull.files),
        }

    def file_json(self, repo: FakeRepo, pull: FakePull, f: FakeFile) -> dict[str, Any]:
        adds, dels = count_changes(f.patch)
        web, api = self.web_url, self.api_url
        data: dict[str, Any] = {
            "sha": hashlib.sha1(f"{pull.head_sha}:{f.path}".encode()).hexdigest(),
            "filename": f.path,
            "status": f.status,
            "additions": adds,
            "deletions": dels,
            "changes": adds + dels,
            "blob_url": f"{web}/{repo.full_name}/blob/{pull.head_sha}/{f.path}",
            "raw_url": f"{web}/{repo.full_name}/raw/{pull.head_sha}/{f.path}",
            "contents_url": f"{api}/repos/{repo.full_name}/contents/{f.path}?ref={pull.head_sha}",
        }
        if f.patch is not None:
            data["patch"] = f.patch
        if f.previous_path:
            data["previous_filename"] = f.previous_path
        return data

    def review_comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        url = f"{api}/repos/{c['repo']}/pulls/comments/{c['id']}"
        pr_url = f"{api}/repos/{c['repo']}/pulls/{c['number']}"
        html = f"{web}/{c['repo']}/pull/{c['number']}#discussion_r{c['id']}"
        pull = self.repos[c["repo"]].pulls[c["number"]]
        # GitHub reports no current line once the comment's commit is no longer the head and the
        # line moved; the fake keeps lines as they were, which is what GitHub does for unchanged files.
        data: dict[str, Any] = {
            "url": url,
            "id": c["id"],
            "node_id": c["node_id"],
            "pull_request_review_id": c["review_id"],
            "diff_hunk": c["diff_hunk"],
            "path": c["path"],
            "commit_id": pull.head_sha,
            "original_commit_id": c["commit_id"],
            "user": self.user_json(c["login"]),
            "body": c["body"],
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "html_url": html,
            "pull_request_url": pr_url,
            "author_association": "NONE",
            "line": c["line"],
            "original_line": c["line"],
            "side": "RIGHT",
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "subject_type": "line",
            "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pr_url}},
            "reactions": self.reaction_rollup(f"{url}/reactions", c["id"]),
        }
        if c["in_reply_to"] is not None:
            data["in_reply_to_id"] = c["in_reply_to"]
        return data

    def issue_comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        return {
            "id": c["id"],
            "node_id": c["node_id"],
            "url": f"{api}/repos/{c['repo']}/issues/comments/{c['id']}",
            "html_url": f"{web}/{c['repo']}/pull/{c['number']}#issuecomment-{c['id']}",
            "body": c["body"],
            "user": self.user_json(c["login"]),
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "issue_url": f"{api}/repos/{c['repo']}/issues/{c['number']}",
            "author_association": "NONE",
        }

    def review_json(self, r: dict[str, Any]) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        html = f"{web}/{r['repo']}/pull/{r['number']}#pullrequestreview-{r['id']}"
        pr_url = f"{api}/repos/{r['repo']}/pulls/{r['number']}"
        return {
            "id": r["id"],
            "node_id": f"PRR_{r['id']}",
            "user": self.user_json(r["login"]),
            "body": r["body"],
            "state": r["state"],
            "html_url": html,
            "pull_request_url": pr_url,
            "commit_id": r["commit_id"],
            "submitted_at": r["submitted_at"],
            "author_association": "NONE",
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        }

    def content_json(self, repo: FakeRepo, path: str, ref: str, data: bytes) -> dict[str, Any]:
        api, web = self.api_url, self.web_url
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        url = f"{api}/repos/{repo.full_name}/contents/{path}?ref={ref}"
        git_url = f"{api}/repos/{repo.full_name}/git/blobs/{sha}"
        html = f"{web}/{repo.full_name}/blob/{ref}/{path}"
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": base64.encodebytes(data).decode(),
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"{web}/{repo.full_name}/raw/{ref}/{path}",
            "_links": {"self": url, "git": git_url, "html": html},
        }

    def collaborator_json(self, login: str, permission: str) -> dict[str, Any]:
        user = self.user_json(login)
        role = {"admin": "admin", "write": "write", "read": "read"}.get(permission, "none")
        perms = {
            "admin": permission == "admin",
            "maintain": permission == "admin",
            "push": permission in ("admin", "write"),
            "triage": permission in ("admin", "write"),
            "pull": permission in ("admin", "write", "read"),
        }
        return {"permission": permission, "role_name": role, "user": {**user, "permissions": perms, "role_name": role}}

    def reaction_rollup(self, url: str, comment_id: int) -> dict[str, Any]:
        """The ``reactions`` summary GitHub puts on a listed comment (``reaction-rollup``)."""
        mine = [r for r in self.reactions if r["comment_id"] == comment_id]
        counts = {content: sum(1 for r in mine if r["content"] == content) for content in REACTION_CONTENTS}
        return {"url": url, "total_count": len(mine), **counts}

    def reaction_json(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": r["id"],
            "node_id": f"REA_{r['id']}",
            "user": self.user_json(r["login"]),
            "content": r["content"],
            "created_at": r["created_at"],
        }


def error_json(message: str, *, errors: list[Any] | None = None, status: int = 422) -> dict[str, Any]:
    data: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        data["errors"] = errors
    return data


_REPO_LINKS = {
    "archive_url": "{archive_format}{/ref}",
    "assignees_url": "assignees{/user}",
    "blobs_url": "git/blobs{/sha}",
    "branches_url": "branches{/branch}",
    "collaborators_url": "collaborators{/collaborator}",
    "comments_url": "comments{/number}",
    "commits_url": "commits{/sha}",
    "compare_url": "compare/{base}...{head}",
    "contents_url": "contents/{+path}",
    "contributors_url": "contributors",
    "deployments_url": "deployments",
    "downloads_url": "downloads",
    "events_url": "events",
    "forks_url": "forks",
    "git_commits_url": "git/commits{/sha}",
    "git_refs_url": "git/refs{/sha}",
    "git_tags_url": "git/tags{/sha}",
    "hooks_url": "hooks",
    "issue_comment_url": "issues/comments{/number}",
    "issue_events_url": "issues/events{/number}",
    "issues_url": "issues{/number}",
    "keys_url": "keys{/key_id}",
    "labels_url": "labels{/name}",
    "languages_url": "languages",
    "merges_url": "merges",
    "milestones_url": "milestones{/number}",
    "notifications_url": "notifications{?since,all,participating}",
    "pulls_url": "pulls{/number}",
    "releases_url": "releases{/id}",
    "stargazers_url": "stargazers",
    "statuses_url": "statuses/{sha}",
    "subscribers_url": "subscribers",
    "subscription_url": "subscription",
    "tags_url": "tags",
    "teams_url": "teams",
    "trees_url": "git/trees{/sha}",
}
