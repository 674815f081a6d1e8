"""``pull_request_review_thread`` deliveries: GitHub's own examples and the fake's payloads through
the signed receiver, the routing rules, and the job that records a resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from bot.webhooks.dispatch import Policy, route
from bot.webhooks.enqueue import RecordingEnqueuer
from bot.webhooks.events import MAX_THREAD_FINGERPRINTS, ReviewThreadEvent, parse_event
from core.domain import RepoRef
from core.settings import Settings
from github_adapter.render import fingerprint_marker
from tests.conftest_bot import FakeRedis, bot_settings, delivery_headers
from tests.fakes.github import FakeGitHub
from tests.fakes.github import scenario as sc
from workers.jobs import ThreadFeedbackJob
from workers.services.feedback import record_thread_feedback
from workers.services.feedback_store import PairSide, PublishedPair, SqliteFeedbackStore, store_path
from workers.tasks import names

pytestmark = pytest.mark.integration

BOT = "doppel[bot]"
EXAMPLES = (
    Path(__file__).resolve().parents[1] / ".npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)
FP = sc.DUP_APPLY.fingerprint


def thread_payload(*, author: str = BOT, body: str | None = None, sender: str = "alice", action: str = "resolved"):
    state = FakeGitHub()
    sc.arrange(state, bot_login=BOT)
    root = state.add_review_comment(
        sc.SLUG, sc.NUMBER, login=author, body=body if body is not None else f"Possible duplicate\n{fingerprint_marker(FP)}",
        path="app/billing.py", line=3, commit_id=sc.HEAD, in_reply_to=None, review_id=None,
    )  # fmt: skip
    state.reply(sc.SLUG, sc.NUMBER, root["id"], "alice", f"thanks {fingerprint_marker('f' * 16)}")
    return state.review_thread_payload(root["id"], action, sender)


def examples() -> list[dict[str, Any]]:
    if not EXAMPLES.exists():
        return []
    (entry,) = [e for e in json.loads(EXAMPLES.read_text()) if e["name"] == "pull_request_review_thread"]
    return list(entry["examples"])


def post(payload: dict[str, Any]) -> tuple[int, dict[str, Any], RecordingEnqueuer]:
    enqueuer = RecordingEnqueuer()
    app = create_app(bot_settings(), enqueuer=enqueuer, redis=FakeRedis())  # type: ignore[arg-type]
    body = json.dumps(payload).encode()
    with TestClient(app) as client:
        response = client.post(WEBHOOK_PATH, content=body, headers=delivery_headers("pull_request_review_thread", body))
    return response.status_code, response.json(), enqueuer


@pytest.mark.skipif(not examples(), reason="@octokit/webhooks-examples is not installed (make npm-fixtures)")
def test_githubs_examples_are_ignored_they_are_not_doppels_threads() -> None:
    for payload in examples():
        status, answer, enqueuer = post(payload)
        assert status == 200 and answer["status"] == "ignored" and enqueuer.jobs == [], answer


@pytest.mark.skipif(not examples(), reason="@octokit/webhooks-examples is not installed (make npm-fixtures)")
def test_githubs_examples_on_a_doppel_thread_queue_the_feedback_job() -> None:
    for example in examples():
        payload = json.loads(json.dumps(example))
        root = payload["thread"]["comments"][0]
        root["user"]["login"], root["body"] = BOT, f"**Possible duplicate** …\n{fingerprint_marker(FP)}"
        status, _, enqueuer = post(payload)
        (job,) = enqueuer.jobs
        assert status == 202 and job.task == names.RECORD_THREAD_FEEDBACK
        assert job.kwargs["fingerprints"] == [FP] and job.kwargs["resolved"] == (example["action"] == "resolved")
        assert job.kwargs["sender"] == example["sender"]["login"]
        assert job.kwargs["repo_id"] == example["repository"]["id"]


def test_routing_keeps_only_doppels_threads_resolved_by_others() -> None:
    policy = Policy(bot_login=BOT, user_limit=10, pull_limit=30)
    decision = route(parse_event("pull_request_review_thread", thread_payload()), policy)
    (job,) = decision.jobs
    assert decision.reason == "review_thread.resolved"
    assert job.kwargs == {
        "installation_id": sc.INSTALLATION, "repo": sc.SLUG, "pr_number": sc.NUMBER, "fingerprints": [FP],
        "resolved": True, "sender": "alice", "repo_id": job.kwargs["repo_id"],
    }  # fmt: skip
    assert [limit.key.rsplit(":", 1)[-1] for limit in job.limits] == ["alice", f"{sc.SLUG}#{sc.NUMBER}"]
    unresolved = route(parse_event("pull_request_review_thread", thread_payload(action="unresolved")), policy)
    assert unresolved.jobs[0].kwargs["resolved"] is False

    def reason(**kw: Any) -> str:
        decision = route(parse_event("pull_request_review_thread", thread_payload(**kw)), policy)
        assert decision.jobs == ()
        return decision.reason

    assert reason(author="alice") == "ignored.review_thread.not_doppels"  # someone else's thread
    assert reason(body="no marker here") == "ignored.review_thread.not_doppels"
    assert reason(sender=BOT) == "ignored.own_action"
    assert reason(action="created") == "ignored.pull_request_review_thread.created"


def test_a_hostile_thread_gives_bounded_fingerprints_and_malformed_payloads_are_refused() -> None:
    many = "\n".join(fingerprint_marker(f"{n:016x}") for n in range(500))
    event = parse_event("pull_request_review_thread", thread_payload(body=many))
    assert isinstance(event, ReviewThreadEvent) and len(event.fingerprints) == MAX_THREAD_FINGERPRINTS
    bad = thread_payload()
    bad["thread"]["comments"] = "not a list"
    status, answer, _ = post(bad)
    assert status == 400 and "thread.comments" in json.dumps(answer)


class _GitHub:
    def __init__(self, permissions: dict[str, str]) -> None:
        self.permissions = permissions
        self.asked: list[str] = []

    def permission(self, repo: str, login: str) -> str:
        self.asked.append(login)
        return self.permissions.get(login, "none")


class _Runtime:
    def __init__(self, settings: Settings, github: _GitHub) -> None:
        self.settings = settings
        self._github = github

    def github(self, installation_id: int | None) -> _GitHub:
        return self._github


def test_the_job_records_a_writers_resolution_in_the_repositorys_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, bot_login=BOT)
    github = _GitHub({"alice": "write", "bob": "read"})
    rt = _Runtime(settings, github)
    base = {"installation_id": sc.INSTALLATION, "repo": sc.SLUG, "repo_id": 5150, "pr_number": sc.NUMBER}
    ref = RepoRef(sc.SLUG, sc.INSTALLATION, 5150)
    side = PairSide("python", "a.py", "f", "c" * 40, "h", "def f():\n    return 1\n")
    store = SqliteFeedbackStore(store_path(tmp_path, ref))
    store.remember([PublishedPair(FP, sc.NUMBER, side, side)])

    def run(**kw: Any) -> str:
        job = ThreadFeedbackJob.from_kwargs({**base, "fingerprints": [FP], "resolved": True, "sender": "alice", **kw})
        return record_thread_feedback(rt, job)

    assert run(sender="bob") == "not_allowed"
    assert run() == "recorded"
    assert [(p.pair.fingerprint, p.positive) for p in store.labelled()] == [(FP, True)]
    assert run(fingerprints=["f" * 16]) == "unknown"  # not a finding doppel remembers
    assert run(fingerprints=["../../etc"]) == "invalid"
    assert run(pr_number=-3) == "invalid"
    assert run(fingerprints="ab") == "invalid"
    assert run(resolved=False, sender="bob") == "recorded"  # taking a resolution back needs no access
    assert store.labelled() == []
    assert github.asked == ["bob", "alice"]
    store.close()


def test_the_job_binds_to_its_task_and_survives_json() -> None:
    import inspect

    from workers.tasks.feedback import record_thread_feedback as task

    job = ThreadFeedbackJob.for_repo(
        RepoRef(sc.SLUG, sc.INSTALLATION, 5150), pr_number=3, fingerprints=(FP,), resolved=True, sender="alice"
    )
    kwargs = json.loads(json.dumps(job.to_kwargs()))
    assert job.task == names.RECORD_THREAD_FEEDBACK == task.name
    assert names.ROUTES[names.RECORD_THREAD_FEEDBACK] == names.QUEUE_IO
    inspect.signature(task.run).bind(**kwargs)
    assert ThreadFeedbackJob.from_kwargs(kwargs) == job
