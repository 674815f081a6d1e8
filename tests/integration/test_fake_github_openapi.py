"""The fake GitHub stays faithful: what doppel sends and what the fake answers match GitHub's
official OpenAPI description (``@octokit/openapi``, installed under ``tests/.npm``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from github_adapter.auth import AppTokenProvider, GitHubConfig
from github_adapter.client import GitHubAccess, GitHubClient, InlineComment
from github_adapter.errors import GitHubError
from tests.fakes.github import FakeFile, FakeGitHub, FakeGitHubServer
from tests.fakes.github.openapi import OpenAPIChecker, load_checker, openapi_version
from tests.fakes.github.server import Exchange

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        load_checker() is None,
        reason="GitHub's OpenAPI description is not installed: npm install --prefix tests/.npm @octokit/openapi@23.0.2",
    ),
]

PATCH = "@@ -1,2 +1,4 @@\n def f():\n+    x = 1\n+    return x\n     pass"


@pytest.fixture(scope="module")
def checker() -> OpenAPIChecker:
    loaded = load_checker()
    assert loaded is not None
    return loaded


@pytest.fixture
def server() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub()
    state.add_token("ghp_user", "octo")
    repo = state.add_repo("acme/tool", installation_id=9, permissions={"octo": "admin"})
    repo.contents[("main", ".github/doppel.yml")] = b"strictness: strict\n"
    state.add_pull("acme/tool", 1, head_sha="a" * 40, base_sha="b" * 40, files=[FakeFile("src/f.py", PATCH)])
    state.add_pull("acme/tool", 2, head_sha="c" * 40, base_sha="b" * 40, files=[], state="closed")
    with FakeGitHubServer(state) as srv:
        yield srv


def _client(server: FakeGitHubServer, token: str = "ghp_user") -> GitHubClient:
    return GitHubClient.connect(
        token, api_url=server.api_url, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )


def test_package_version_is_known() -> None:
    assert openapi_version() is not None


def test_every_route_of_the_fake_is_a_documented_operation(checker: OpenAPIChecker, server: FakeGitHubServer) -> None:
    def shape(template: str) -> str:  # parameter names differ ({number} vs {pull_number}): compare shapes
        return re.sub(r"\{\w+\}", "{}", template)

    documented = {(op.method, shape(op.template)) for op in checker.operations}
    served = [(method, shape(template)) for method, template in server.handler.templates]
    assert len(served) >= 15 and [t for t in served if t not in documented] == []


def test_every_client_call_and_answer_matches_the_description(
    checker: OpenAPIChecker, server: FakeGitHubServer
) -> None:
    client = _client(server)
    pull = client.pull("acme/tool", 1)
    assert [p.number for p in client.open_pulls("acme/tool")] == [1]
    assert client.pull_files("acme/tool", 1)[0].patch == PATCH
    assert client.default_branch("acme/tool") == "main"
    assert client.file_text("acme/tool", ".github/doppel.yml", "main") == "strictness: strict\n"
    assert client.file_text("acme/tool", ".github/missing.yml", "main") is None
    assert client.permission("acme/tool", "octo") == "admin"
    assert client.permission("acme/tool", "stranger") == "none"
    review_id = client.create_review(
        "acme/tool", 1, commit_id=pull.head_sha, body="r", comments=[InlineComment("src/f.py", 2, "on an added line")]
    )
    assert review_id > 0
    with pytest.raises(GitHubError) as refused:
        client.create_review(
            "acme/tool", 1, commit_id=pull.head_sha, body="r", comments=[InlineComment("src/f.py", 9, "x")]
        )
    assert refused.value.unprocessable
    single = client.create_review_comment(
        "acme/tool", 1, commit_id=pull.head_sha, comment=InlineComment("src/f.py", 3, "y")
    )
    with pytest.raises(GitHubError) as off_diff:
        client.create_review_comment(
            "acme/tool", 1, commit_id=pull.head_sha, comment=InlineComment("src/f.py", 40, "z")
        )
    assert off_diff.value.unprocessable
    reply = client.reply_to_review_comment("acme/tool", 1, single.id, "thread answer")
    assert reply.in_reply_to_id == single.id
    listed = client.review_comments("acme/tool", 1)
    assert [(c.line, c.in_reply_to_id) for c in listed] == [(2, None), (3, None), (3, single.id)]
    note = client.create_issue_comment("acme/tool", 1, "first")
    client.edit_issue_comment("acme/tool", note.id, "second")
    client.add_reaction("acme/tool", note.id, "eyes")
    assert [c.body for c in client.issue_comments("acme/tool", 1)] == ["second"]
    assert client.minimize_comment(single.node_id) is True

    problems = [p for e in server.exchanges for p in checker.check(e)]
    assert problems == []
    assert len(server.exchanges) >= 18


def test_app_token_exchange_matches_the_description(checker: OpenAPIChecker, server: FakeGitHubServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    server.state.configure_app(1234, key.public_key())
    provider = AppTokenProvider(1234, pem, api_url=server.api_url)
    token = provider.token(9)
    assert _client(server, token).pull("acme/tool", 1).number == 1  # the installation token works
    (issued,) = server.state.installation_tokens
    assert issued["token"] == token and issued["installation_id"] == 9
    assert [p for e in server.exchanges for p in checker.check(e)] == []


def test_paginated_listing_follows_link_headers(server: FakeGitHubServer) -> None:
    state = server.state
    for i in range(130):
        state.add_issue_comment("acme/tool", 1, "octo", f"comment {i}")
    bodies = [c.body for c in _client(server).issue_comments("acme/tool", 1)]
    assert bodies == [f"comment {i}" for i in range(130)]
    pages = [e.query.get("page", "1") for e in server.exchanges if e.path.endswith("/issues/1/comments")]
    assert pages == ["1", "2"]


def test_checker_rejects_what_github_does_not_document(checker: OpenAPIChecker) -> None:
    def check(method: str, path: str, body: object, status: int, response: object) -> list[str]:
        return checker.check(Exchange(method, path, {}, {}, body, status, response))

    assert "no documented operation" in check("GET", "/repos/a/b/pullz/1", None, 200, {})[0]
    bad_request = check(
        "POST", "/repos/a/b/pulls/1/reviews", {"event": "SHOUT", "comments": [{"line": "x"}]}, 200, None
    )
    assert any("event" in p for p in bad_request) and any("comments/0/line" in p for p in bad_request)
    assert "answered 201" in check("POST", "/repos/a/b/pulls/1/reviews", {}, 201, None)[0]
    assert any("required property" in p for p in check("GET", "/repos/a/b/pulls/1", None, 200, {"number": 1}))
    graphql = Exchange("POST", "/graphql", {}, {}, {"query": "query { viewer { login } }"}, 200, {}, graphql=True)
    assert checker.check(graphql)


def test_access_builds_installation_clients_from_app_credentials(server: FakeGitHubServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    server.state.configure_app(55, key.public_key())
    config = GitHubConfig(api_url=server.api_url, app_id=55, private_key=pem, web_url="https://ghe.example.test")
    access = GitHubAccess(config, retry=None, seconds_between_requests=None, seconds_between_writes=None)
    first, second = access.client(9), access.client(9)
    assert first.pull("acme/tool", 1).head_sha == "a" * 40 and second.web_url == "https://ghe.example.test"
    assert len(server.state.installation_tokens) == 1  # the second client reused the cached token
