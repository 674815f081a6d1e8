"""Faults: the broker's visibility timeout is the documented setting, and publishing is
idempotent per (pull request, head SHA), so that a task run again after its worker died having
posted (a SIGKILL after the post, before the ack) never posts a second review.

Before the fix ``workers/celery_app.py`` hard-coded 6 h whatever
``DOPPEL_BROKER_VISIBILITY_TIMEOUT_SECONDS`` said, and a second run of the same head posted
another review whenever it placed a comment the first run had not (the comment cap or the
thresholds changed with the restart that redelivered the task). The end-to-end version, with a
real worker SIGKILLed right after publishing, is ``tests/e2e/test_e2e_faults.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import load_settings
from github_adapter.client import GitHubClient
from github_adapter.errors import GitHubError
from github_adapter.publish import PublishService
from github_adapter.render import is_summary
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.github import scenario as sc
from workers.celery_app import create_celery
from workers.services.repo_config import RepoConfig

ROOT = Path(__file__).resolve().parents[2]
BOT = "doppel[bot]"
TOKEN = "ghs_faults_test_token"


def test_the_visibility_timeout_setting_reaches_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOPPEL_BROKER_VISIBILITY_TIMEOUT_SECONDS", "4321")
    app = create_celery(load_settings(_env_file=None), include_tasks=False)
    assert app.conf.broker_transport_options["visibility_timeout"] == 4321


def test_the_worker_apps_visibility_timeout_comes_from_the_environment() -> None:
    """``celery -A workers.celery_app worker`` builds its app at import, from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env.update(PYTHONPATH=str(ROOT), DOPPEL_BROKER_VISIBILITY_TIMEOUT_SECONDS="987")
    code = "import json; from workers.celery_app import app; print(json.dumps(app.conf.broker_transport_options))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["visibility_timeout"] == 987


# --- publishing twice for one head ---------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub(web_url="https://github.example.test")
    sc.arrange(state, bot_token=TOKEN, bot_login=BOT)
    with FakeGitHubServer(state) as server:
        yield server


def _publisher(fake: FakeGitHubServer) -> PublishService:
    client = GitHubClient.connect(
        TOKEN, api_url=fake.api_url, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    return PublishService(client, bot_login=BOT)


def _summaries(state: FakeGitHub) -> list[dict]:
    return [c for c in state.issue_comments_on(sc.SLUG, sc.NUMBER) if c["login"] == BOT and is_summary(c["body"])]


def test_a_second_run_of_the_same_head_posts_no_second_review(fake: FakeGitHubServer) -> None:
    # The first run placed one comment (cap 1); the task ran again after a restart that raised the cap.
    first = _publisher(fake).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=1))
    second = _publisher(fake).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=20))

    (review,) = fake.state.reviews_on(sc.SLUG, sc.NUMBER)
    assert review["commit_id"] == sc.HEAD and first.review_id == review["id"]
    assert second.review_existed and second.review_id == review["id"] and second.posted == []
    assert len([c for c in fake.state.comments_on(sc.SLUG, sc.NUMBER) if c["login"] == BOT]) == 1
    (summary,) = _summaries(fake.state)
    for finding in sc.INLINE_FINDINGS:  # everything found is still said, in the summary
        assert finding.function.qualified_name in summary["body"]


def test_a_run_killed_between_its_review_and_its_summary_is_finished_by_the_next(fake: FakeGitHubServer) -> None:
    fake.fail("POST", rf"/repos/{sc.SLUG}/issues/{sc.NUMBER}/comments", 502)  # the summary never lands
    with pytest.raises(GitHubError) as failed:
        _publisher(fake).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=2))
    assert failed.value.status == 502 and len(fake.state.reviews_on(sc.SLUG, sc.NUMBER)) == 1

    again = _publisher(fake).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=20))

    assert len(fake.state.reviews_on(sc.SLUG, sc.NUMBER)) == 1 and again.review_existed
    assert again.summary_action == "created" and len(_summaries(fake.state)) == 1


def test_another_head_gets_its_own_review(fake: FakeGitHubServer) -> None:
    publisher = _publisher(fake)
    publisher.publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref(), config=RepoConfig(max_comments=1))
    new_head = "5" * 40
    fake.state.push(sc.SLUG, sc.NUMBER, new_head)
    outcome = publisher.publish(
        sc.result(sc.ALL_FINDINGS, head=new_head), sc.pull_ref(new_head), config=RepoConfig(max_comments=2)
    )
    assert not outcome.review_existed and len(outcome.posted) == 1
    assert [r["commit_id"] for r in fake.state.reviews_on(sc.SLUG, sc.NUMBER)] == [sc.HEAD, new_head]


def test_a_review_that_someone_else_marked_is_not_the_bots(fake: FakeGitHubServer) -> None:
    # Markers quoted by another account prove nothing: only the bot's own review counts.
    fake.state.reviews[1] = {
        "id": 1, "repo": sc.SLUG, "number": sc.NUMBER, "login": "alice", "state": "COMMENTED",
        "body": f"<!-- doppel:review -->\n<!-- doppel:head={sc.HEAD} -->", "commit_id": sc.HEAD,
        "submitted_at": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    outcome = _publisher(fake).publish(sc.result(sc.ALL_FINDINGS), sc.pull_ref())
    assert not outcome.review_existed and outcome.posted
