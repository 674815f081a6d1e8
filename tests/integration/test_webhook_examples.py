"""GitHub's own example payloads (npm @octokit/webhooks-examples) through the signed receiver.

Every example of every event doppel handles must be answered as documented: accepted with the
task the router names, or ignored for a stated reason; never a 4xx/5xx. Install the examples
with ``npm install --prefix tests/.npm @octokit/webhooks-examples@7.6.1 (make npm-fixtures)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from bot.webhooks.dispatch import Policy, route
from bot.webhooks.enqueue import RecordingEnqueuer
from bot.webhooks.events import parse_event
from tests.conftest_bot import FakeRedis, bot_settings, delivery_headers
from workers.tasks import names

pytestmark = pytest.mark.integration

EXAMPLES_VERSION = "7.6.1"
EXAMPLES = (
    Path(__file__).resolve().parents[1]
    / ".npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)
HANDLED = (
    "ping",
    "pull_request",
    "issue_comment",
    "pull_request_review_comment",
    "push",
    "installation",
    "installation_repositories",
)

# What each example must become: (event, action) → the task queued, or None when ignored.
EXPECTED: dict[tuple[str, str | None], str | None] = {
    ("pull_request", "opened"): names.REVIEW_PULL_REQUEST,
    ("pull_request", "reopened"): names.REVIEW_PULL_REQUEST,
    ("pull_request", "synchronize"): names.REVIEW_PULL_REQUEST,
    ("pull_request", "ready_for_review"): names.REVIEW_PULL_REQUEST,
    ("installation", "created"): names.INDEX_REPOSITORY,
    ("installation", "deleted"): names.DROP_REPOSITORY,
    ("installation_repositories", "added"): names.INDEX_REPOSITORY,
    ("installation_repositories", "removed"): names.DROP_REPOSITORY,
}


def _examples() -> list[tuple[str, int, dict[str, Any]]]:
    if not EXAMPLES.exists():
        return []
    catalogue = {entry["name"]: entry for entry in json.loads(EXAMPLES.read_text())}
    return [(name, i, ex) for name in HANDLED for i, ex in enumerate(catalogue[name]["examples"])]


CASES = _examples()


def _expected(event: str, payload: dict[str, Any]) -> str | None:
    if event == "push":  # the default branch gets an incremental index; tags and deletions do not
        default = f"refs/heads/{payload['repository']['default_branch']}"
        live = payload["after"] != "0" * 40 and not payload.get("deleted")
        return names.INDEX_PUSH if payload["ref"] == default and live else None
    if event in ("issue_comment", "pull_request_review_comment"):
        return None  # none of GitHub's examples holds a /similar command
    return EXPECTED.get((event, payload.get("action")))


@pytest.mark.skipif(
    not CASES, reason=f"@octokit/webhooks-examples@{EXAMPLES_VERSION} is not installed under tests/.npm (make npm-fixtures)"
)
@pytest.mark.parametrize(
    ("event", "index", "payload"), CASES, ids=[f"{e}-{i}-{p.get('action', '')}" for e, i, p in CASES]
)
def test_github_example_is_routed_as_documented(event: str, index: int, payload: dict[str, Any]) -> None:
    enqueuer = RecordingEnqueuer()
    app = create_app(bot_settings(), enqueuer=enqueuer, redis=FakeRedis())  # type: ignore[arg-type]
    body = json.dumps(payload).encode()
    with TestClient(app) as client:
        response = client.post(WEBHOOK_PATH, content=body, headers=delivery_headers(event, body))
    expected = _expected(event, payload)
    if expected is None:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ignored"
        assert enqueuer.jobs == []
    else:
        assert response.status_code == 202, response.text
        assert enqueuer.jobs and {job.task for job in enqueuer.jobs} == {expected}


@pytest.mark.skipif(
    not CASES, reason=f"@octokit/webhooks-examples@{EXAMPLES_VERSION} is not installed under tests/.npm (make npm-fixtures)"
)
def test_examples_with_a_command_added_queue_the_command() -> None:
    """GitHub's comment examples, with the body replaced by a command, reach the similar task
    (issue comments only when the issue is a pull request)."""
    comments = [(e, p) for e, _, p in CASES if e in ("issue_comment", "pull_request_review_comment")]
    queued = 0
    for event, payload in comments:
        if payload["action"] != "created":
            continue
        payload = json.loads(json.dumps(payload))
        payload["comment"]["body"] = '/similar "parse a config file"'
        decision = route(parse_event(event, payload), Policy())
        on_pull = event == "pull_request_review_comment" or "pull_request" in payload["issue"]
        assert [j.task for j in decision.jobs] == ([names.SIMILAR_COMMAND] if on_pull else []), decision.reason
        queued += bool(decision.jobs)
    assert queued >= 1
