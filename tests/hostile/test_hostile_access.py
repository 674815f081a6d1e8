"""Hostile commenters: ``/similar`` runs only for people with write access to the repository,
``/similar ignore`` only for them and the pull request's author, and every command counts
against per-user and per-PR rate limits in Redis.

Before the fix a comment by an author with ``author_association: NONE`` queued ``/similar
ignore`` (switching reviews off on someone else's pull request) and ``/similar NAME``, nothing
called GitHub's collaborator-permission API, and nothing was rate limited.

The worker-side tests run the real flows against the fake GitHub over HTTP (PyGithub talks to
it for real) and the real Redis registry; the receiver-side ones post signed deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import WEBHOOK_PATH, create_app
from bot.commands import CommandKind
from bot.webhooks.dispatch import Policy, route
from bot.webhooks.enqueue import RecordingEnqueuer, RedisDeliveryQueue
from bot.webhooks.events import parse_event
from core.domain import RepoRef
from core.settings import Settings
from github_adapter.client import GitHubClient
from tests.conftest_bot import (
    TEST_REDIS_URL,
    bot_settings,
    comment_payload,
    delivery_headers,
    encode,
    real_redis,  # noqa: F401  (the fixture)
)
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from workers.celery_app import create_celery
from workers.services.coalesce import PullCoalescer
from workers.jobs import CommandJob
from workers.services import flows
from workers.tasks import names
from workers.services.repo_registry import RepoRegistry

SLUG, NUMBER, INSTALLATION = "acme/shop", 7, 42
BOT, TOKEN = "doppel[bot]", "ghs_access_test_token"
AUTHOR = "pat"  # opened the pull request; no access to the repository
MAINTAINER, STRANGER, TEAM_MEMBER = "alice", "mallory", "tom"


def _comment(body: str, author: str, association: str | None, **extra: Any) -> dict[str, Any]:
    payload = comment_payload(body, author=author, **extra)
    if association is not None:
        payload["comment"]["author_association"] = association
    payload["issue"]["user"] = {"login": AUTHOR}
    return payload


DEFAULT_POLICY = Policy()


def _route(body: str, author: str, association: str | None, policy: Policy = DEFAULT_POLICY) -> Any:
    return route(parse_event("issue_comment", _comment(body, author, association)), policy)


# --- the receiver: who is passed on, marked how --------------------------------------------------


@pytest.mark.parametrize("body", ["/similar ignore", "/similar pricing.apply_discount"])
def test_a_none_commenters_commands_are_not_queued_as_trusted(body: str) -> None:
    (job,) = _route(body, STRANGER, "NONE").jobs
    assert job.kwargs["access"] == "check" and job.kwargs["author"] == STRANGER
    # A deployment that never asks GitHub drops them at the receiver: nothing is queued.
    strict = Policy(checked_associations=frozenset())
    decision = _route(body, STRANGER, "NONE", strict)
    assert not decision.jobs and decision.reason == "ignored.command.not_allowed"


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_a_collaborators_commands_are_queued_as_trusted(association: str) -> None:
    for body, task in (("/similar ignore", names.REPLY_COMMAND), ("/similar apply_discount", names.SIMILAR_COMMAND)):
        (job,) = _route(body, MAINTAINER, association).jobs
        assert job.task == task and job.kwargs["access"] == "trusted"


def test_an_association_outside_both_sets_is_dropped_at_the_receiver() -> None:
    decision = _route("/similar apply_discount", "ghost", "MANNEQUIN")
    assert not decision.jobs and decision.reason == "ignored.command.not_allowed"


def test_the_pull_requests_author_may_ignore_it_but_not_search_unchecked() -> None:
    (ignore,) = _route("/similar ignore", AUTHOR, "NONE").jobs
    assert ignore.kwargs["access"] == "trusted"
    (search,) = _route("/similar apply_discount", AUTHOR, "NONE").jobs
    assert search.kwargs["access"] == "check"


def test_the_allowed_associations_are_settings() -> None:
    settings = bot_settings(command_allowed_associations="owner", command_checked_associations="member,none")
    policy = Policy.from_settings(settings)
    (job,) = _route("/similar apply_discount", MAINTAINER, "MEMBER", policy).jobs
    assert job.kwargs["access"] == "check"
    assert not _route("/similar apply_discount", MAINTAINER, "COLLABORATOR", policy).jobs


def test_write_maintain_and_admin_may_run_everything_read_only_the_authors_ignore() -> None:
    from workers.services.access import may_run

    for permission in ("write", "maintain", "admin", "WRITE"):
        assert may_run(CommandKind.FUNCTION, permission, is_pull_author=False)
    for permission in ("read", "triage", "none", ""):
        assert not may_run(CommandKind.FUNCTION, permission, is_pull_author=True)
        assert not may_run(CommandKind.IGNORE, permission, is_pull_author=False)
        assert may_run(CommandKind.IGNORE, permission, is_pull_author=True)


# --- the worker: the flows over the fake GitHub ---------------------------------------------------


class _Runtime:
    """The runtime ports the command flows use: GitHub through the production adapter over the
    fake server, the registry on the test Redis, and a search that records what it was asked."""

    def __init__(self, settings: Settings, redis: Any, client: GitHubClient) -> None:
        from workers.tasks.production import GitHubAdapter

        self.settings = settings
        self.registry = RepoRegistry(redis)
        self.coalescer = PullCoalescer(redis, lock_seconds=60)
        self._github = GitHubAdapter(client, INSTALLATION, settings)
        self.searches: list[Any] = []

    def github(self, installation_id: int | None) -> Any:
        return self._github

    def plan(self, repo: RepoRef, *args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(problem=None)

    def similar(self, repo: RepoRef, **kwargs: Any) -> str:
        self.searches.append(kwargs["command"])
        return "an answer"

    def enqueue(self, job: Any) -> None:
        raise AssertionError(f"a command queued {job.task}")


@pytest.fixture
def fake() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub()
    state.add_token(TOKEN, BOT, "Bot")
    permissions = {MAINTAINER: "write", STRANGER: "read", TEAM_MEMBER: "write", AUTHOR: "read"}
    state.add_repo(SLUG, installation_id=INSTALLATION, permissions=permissions)
    state.add_pull(SLUG, NUMBER, head_sha="1" * 40, base_sha="b" * 40, files=[], author=AUTHOR)
    with FakeGitHubServer(state) as server:
        yield server


@pytest.fixture
def rt(fake: FakeGitHubServer, real_redis: Any) -> _Runtime:  # noqa: F811
    client = GitHubClient.connect(
        TOKEN, api_url=fake.api_url, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )
    return _Runtime(bot_settings(), real_redis, client)


def _run(rt: _Runtime, fake: FakeGitHubServer, body: str, author: str, association: str | None) -> str:
    """Deliver a comment through the router, then run the job it queued as the worker would."""
    comment = fake.state.add_issue_comment(SLUG, NUMBER, author, body)
    payload = _comment(body, author, association)
    payload["comment"]["id"] = comment["id"]
    payload.update(repository={"full_name": SLUG, "id": fake.state.repos[SLUG].id}, installation={"id": INSTALLATION})
    (job,) = route(parse_event("issue_comment", payload), Policy()).jobs
    flow = flows.similar_command if job.task == names.SIMILAR_COMMAND else flows.reply_command
    outcome: str = flow(rt, CommandJob.from_kwargs(job.kwargs))
    return outcome


def _bot_replies(fake: FakeGitHubServer) -> list[str]:
    return [c["body"] for c in fake.state.issue_comments_on(SLUG, NUMBER) if c["login"] == BOT]


def _refusal() -> str:
    from workers.services.access import REFUSAL

    return REFUSAL


def _permission_calls(fake: FakeGitHubServer) -> list[str]:
    return [e.path.rsplit("/", 2)[1] for e in fake.exchanges if e.path.endswith("/permission")]


def test_a_none_commenters_ignore_does_not_silence_the_pull_request(rt: _Runtime, fake: FakeGitHubServer) -> None:
    assert _run(rt, fake, "/similar ignore", STRANGER, "NONE") == "refused"
    assert not rt.registry.is_ignored(RepoRef(SLUG, INSTALLATION), NUMBER)
    assert _bot_replies(fake) == [_refusal()]
    assert not fake.state.reactions  # no 👀: nothing is being worked on
    assert _permission_calls(fake) == [STRANGER]


def test_a_none_commenters_search_does_not_run(rt: _Runtime, fake: FakeGitHubServer) -> None:
    assert _run(rt, fake, "/similar shop/pricing.py:apply_discount", STRANGER, "NONE") == "refused"
    assert rt.searches == []
    assert _bot_replies(fake) == [_refusal()]


def test_a_refused_user_is_told_once_per_pull_request(rt: _Runtime, fake: FakeGitHubServer) -> None:
    for body in ("/similar ignore", "/similar apply_discount", "/similar help"):
        assert _run(rt, fake, body, STRANGER, "NONE") == "refused"
    assert _bot_replies(fake) == [_refusal()]
    assert not rt.registry.is_ignored(RepoRef(SLUG, INSTALLATION), NUMBER) and rt.searches == []


def test_a_collaborators_ignore_and_search_run_without_asking_github(rt: _Runtime, fake: FakeGitHubServer) -> None:
    assert _run(rt, fake, "/similar apply_discount", MAINTAINER, "COLLABORATOR") == "function"
    assert _run(rt, fake, "/similar ignore", MAINTAINER, "COLLABORATOR") == "ignore"
    assert rt.registry.is_ignored(RepoRef(SLUG, INSTALLATION), NUMBER)
    assert [c.kind for c in rt.searches] == [CommandKind.FUNCTION]
    assert _permission_calls(fake) == []


def test_an_ambiguous_association_asks_the_permission_api(rt: _Runtime, fake: FakeGitHubServer) -> None:
    # A team member with write access whose organisation membership is private shows as CONTRIBUTOR.
    assert _run(rt, fake, "/similar apply_discount", TEAM_MEMBER, "CONTRIBUTOR") == "function"
    assert _run(rt, fake, "/similar ignore", TEAM_MEMBER, "CONTRIBUTOR") == "ignore"
    assert _permission_calls(fake) == [TEAM_MEMBER, TEAM_MEMBER]
    assert rt.registry.is_ignored(RepoRef(SLUG, INSTALLATION), NUMBER) and len(rt.searches) == 1
    assert _refusal() not in _bot_replies(fake)


def test_the_pull_requests_author_may_ignore_it_even_when_github_is_asked(rt: _Runtime, fake: FakeGitHubServer) -> None:
    # The payload did not name the PR's author (a review comment's may not): the worker asks.
    comment = fake.state.add_issue_comment(SLUG, NUMBER, AUTHOR, "/similar ignore")
    kwargs = {"installation_id": INSTALLATION, "repo": SLUG, "pr_number": NUMBER, "comment_id": comment["id"]}
    asked = {"review_comment": False, "author": AUTHOR, "access": "check"}
    command = {"kind": "ignore"}
    outcome = flows.reply_command(rt, CommandJob.from_kwargs({**kwargs, **asked, "command": command}))
    assert outcome == "ignore" and rt.registry.is_ignored(RepoRef(SLUG, INSTALLATION), NUMBER)
    search = {"kind": "function", "function": "apply_discount"}
    outcome = flows.similar_command(rt, CommandJob.from_kwargs({**kwargs, **asked, "command": search}))
    assert outcome == "refused"
    assert rt.searches == []  # read access: the author may silence their PR, not search


# --- rate limits, counted by the receiver in Redis ------------------------------------------------


def _deliver(client: TestClient, payload: dict[str, Any], delivery: str | None = None) -> None:
    body = encode(payload)
    response = client.post(
        WEBHOOK_PATH, content=body, headers=delivery_headers("issue_comment", body, delivery=delivery)
    )
    assert response.status_code in (200, 202), response.text


def test_a_users_commands_are_rate_limited_after_n(real_redis: Any) -> None:  # noqa: F811
    enqueuer = RecordingEnqueuer()
    settings = bot_settings(command_rate_limit_per_user=3, command_rate_limit_per_pull=100)
    with TestClient(create_app(settings, enqueuer=enqueuer, redis=real_redis)) as client:
        for n in range(5):
            _deliver(client, _comment(f"/similar fn_{n}", MAINTAINER, "OWNER"))
        assert [j.kwargs["command"]["function"] for j in enqueuer.jobs] == ["fn_0", "fn_1", "fn_2"]
        # Another user is not held back by the first one's spent limit.
        _deliver(client, _comment("/similar other", TEAM_MEMBER, "MEMBER"))
        assert len(enqueuer.jobs) == 4
    ttl = real_redis.ttl(f"doppel:ratelimit:user:{MAINTAINER}")
    assert 0 < ttl <= settings.command_rate_window_seconds


def test_a_pull_requests_commands_are_rate_limited_and_a_redelivery_counts_once(real_redis: Any) -> None:  # noqa: F811
    enqueuer = RecordingEnqueuer()
    settings = bot_settings(command_rate_limit_per_user=100, command_rate_limit_per_pull=2)
    with TestClient(create_app(settings, enqueuer=enqueuer, redis=real_redis)) as client:
        _deliver(client, _comment("/similar a", MAINTAINER, "OWNER"), delivery="same-delivery")
        _deliver(client, _comment("/similar a", MAINTAINER, "OWNER"), delivery="same-delivery")  # GitHub resends
        _deliver(client, _comment("/similar b", TEAM_MEMBER, "MEMBER"))
        _deliver(client, _comment("/similar c", "carol", "COLLABORATOR"))
    assert [j.kwargs["command"]["function"] for j in enqueuer.jobs] == ["a", "b"]


def test_the_fast_path_counts_the_same_limits_in_its_one_script(real_redis: Any) -> None:  # noqa: F811
    settings = bot_settings(command_rate_limit_per_user=2)
    policy = Policy.from_settings(settings)
    jobs = [_route(f"/similar fn_{n}", MAINTAINER, "OWNER", policy).jobs for n in range(4)]

    async def scenario() -> list[bool]:
        queue = RedisDeliveryQueue.from_url(TEST_REDIS_URL, create_celery(settings, include_tasks=False), 3600)
        try:
            return [await queue.accept(f"d-{n}", batch) for n, batch in enumerate(jobs)]
        finally:
            await queue.aclose()

    assert asyncio.run(scenario()) == [True] * 4  # recorded: GitHub must not redeliver them
    assert real_redis.llen(names.QUEUE_GPU) == 2
    assert int(real_redis.get(f"doppel:ratelimit:user:{MAINTAINER}")) == 4
