"""Feedback through the fake GitHub: doppel publishes a review, reviewers react and resolve, the
collection step polls the reactions, and the labelled pairs become the next training's data.

Every request doppel sends, and every answer the fake gives, is checked against GitHub's OpenAPI
description when ``@octokit/openapi`` is installed under ``tests/.npm``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.webhooks.events import ReviewThreadEvent, parse_event
from github_adapter.client import GitHubClient
from github_adapter.publish import PublishOutcome, PublishService
from tests.fakes.github import FakeGitHub, FakeGitHubServer
from tests.fakes.github import scenario as sc
from tests.fakes.github.openapi import load_checker
from workers.services.feedback import (
    CollectLimits,
    FeedbackCollector,
    record_resolution,
    remember_published,
    training_feedback,
)
from workers.services.feedback_store import MemoryFeedbackStore, PairSide, PublishedPair, StoreLimits

pytestmark = pytest.mark.integration

WEB = "https://github.example.test"
BOT = "doppel[bot]"
TOKEN = "ghs_test_installation_token"
EXAMPLES = (
    Path(__file__).resolve().parents[1] / ".npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)


@pytest.fixture
def fake() -> Iterator[FakeGitHubServer]:
    state = FakeGitHub(web_url=WEB)
    sc.arrange(state, bot_token=TOKEN, bot_login=BOT)
    state.repos[sc.SLUG].permissions.update({"bob": "read", "carol": "admin", "dave": "maintain"})
    with FakeGitHubServer(state) as server:
        yield server
        checker = load_checker()
        if checker is not None:
            problems = [p for e in server.exchanges for p in checker.check(e)]
            assert not problems, "requests or answers GitHub does not document:\n" + "\n".join(problems)


@pytest.fixture
def client(fake: FakeGitHubServer) -> GitHubClient:
    return GitHubClient.connect(
        TOKEN, api_url=fake.api_url, web_url=WEB, retry=None, seconds_between_requests=None, seconds_between_writes=None
    )


def publish(client: GitHubClient, store: MemoryFeedbackStore) -> PublishOutcome:
    """doppel's review of the scenario's pull request, and the pairs behind its inline comments."""
    result = sc.result(sc.ALL_FINDINGS)
    outcome = PublishService(client, bot_login=BOT).publish(result, sc.pull_ref())
    assert remember_published(store, result, sc.NUMBER, [*outcome.posted, *outcome.kept]) == len(sc.INLINE_FINDINGS)
    return outcome


def comment_of(state: FakeGitHub, fingerprint: str) -> dict[str, Any]:
    (found,) = [c for c in state.comments_on(sc.SLUG, sc.NUMBER) if f"doppel:fp={fingerprint}" in c["body"]]
    return found


def labels(store: MemoryFeedbackStore) -> dict[str, bool]:
    return {p.pair.fingerprint: p.positive for p in store.labelled()}


def test_a_thumbs_down_becomes_a_negative_pair_of_the_next_training(
    fake: FakeGitHubServer, client: GitHubClient
) -> None:
    store = MemoryFeedbackStore()
    publish(client, store)
    apply_fp = sc.DUP_APPLY.fingerprint
    fake.state.react(comment_of(fake.state, apply_fp)["id"], "alice", "-1")  # alice has write access

    stats = FeedbackCollector(client, store, bot_login=BOT).collect(sc.SLUG)

    assert stats.votes == 1 and stats.reaction_reads == 1  # only the comment whose summary shows a vote
    assert labels(store) == {apply_fp: False}
    data = training_feedback(store.labelled())
    (negative,) = data.negatives
    assert data.positives == ()
    assert negative.fingerprint == apply_fp
    assert negative.query == sc.APPLY_DISCOUNT.code  # the changed function, as the pull request had it
    assert negative.code == sc.DUP_APPLY.target.code  # the code doppel wrongly called its duplicate
    assert negative.code_key == "lib/money.py::discount" and negative.query_key == "app/billing.py::apply_discount"


def test_thumbs_up_is_a_positive_and_only_write_access_counts(fake: FakeGitHubServer, client: GitHubClient) -> None:
    store = MemoryFeedbackStore()
    publish(client, store)
    state = fake.state
    total, fmt = comment_of(state, sc.DUP_TOTAL.fingerprint), comment_of(state, sc.DUP_FORMAT.fingerprint)
    state.react(total["id"], "alice", "+1")
    state.react(total["id"], "bob", "-1")  # read access only: does not count
    state.react(total["id"], "alice", "eyes")  # not a vote
    state.react(fmt["id"], BOT, "+1", type_="Bot")  # the bot's own reaction
    state.react(fmt["id"], "ci-helper[bot]", "-1", type_="Bot")  # another App's
    state.react(fmt["id"], "mallory", "-1")  # no access at all (the permission API answers 404)

    stats = FeedbackCollector(client, store, bot_login=BOT).collect(sc.SLUG)

    assert labels(store) == {sc.DUP_TOTAL.fingerprint: True}
    assert (stats.ignored_bots, stats.ignored_not_allowed, stats.ignored_other) == (2, 2, 1)
    (positive,) = training_feedback(store.labelled()).positives
    assert (positive.kind, positive.source, positive.split) == ("code2code", "feedback", "train")
    assert positive.query == sc.COMPUTE_TOTAL.code and positive.code == sc.DUP_TOTAL.target.code
    asked = sorted(e.path.rsplit("/", 2)[-2] for e in fake.exchanges if e.path.endswith("/permission"))
    assert asked == ["alice", "bob", "mallory"]  # each person once; bots never


def test_a_withdrawn_reaction_takes_its_label_back(fake: FakeGitHubServer, client: GitHubClient) -> None:
    store = MemoryFeedbackStore()
    publish(client, store)
    comment = comment_of(fake.state, sc.DUP_APPLY.fingerprint)
    fake.state.react(comment["id"], "alice", "-1")
    collector = FeedbackCollector(client, store, bot_login=BOT)
    collector.collect(sc.SLUG)
    assert labels(store) == {sc.DUP_APPLY.fingerprint: False}

    fake.state.unreact(comment["id"], "alice", "-1")
    before = len(fake.exchanges)
    collector.collect(sc.SLUG)
    assert labels(store) == {}
    # The summary said nobody voted: the vote is cleared without listing the reactions.
    assert not [e for e in fake.exchanges[before:] if e.path.endswith("/reactions")]


def test_resolving_the_thread_is_a_positive_from_the_webhook(fake: FakeGitHubServer, client: GitHubClient) -> None:
    store = MemoryFeedbackStore()
    publish(client, store)
    comment = comment_of(fake.state, sc.DUP_SUMMARIZE.fingerprint)
    fake.state.reply(sc.SLUG, sc.NUMBER, comment["id"], "carol", "Good catch, reusing summary().")

    def resolve(sender: str, action: str = "resolved") -> str:
        event = parse_event(
            "pull_request_review_thread", fake.state.review_thread_payload(comment["id"], action, sender)
        )
        assert isinstance(event, ReviewThreadEvent) and event.root_author == BOT
        return record_resolution(
            store,
            pull=event.number,
            fingerprints=event.fingerprints,
            resolved=event.action == "resolved",
            sender=event.sender,
            permission=lambda login: client.permission(sc.SLUG, login),
            bot_login=BOT,
        )

    assert resolve("bob") == "not_allowed"  # read access: resolving says nothing
    assert labels(store) == {}
    assert resolve("carol") == "recorded"
    assert labels(store) == {sc.DUP_SUMMARIZE.fingerprint: True}
    assert store.labelled()[0].reason == "resolved"
    # 👎 by someone with write access outweighs the resolution.
    fake.state.react(comment["id"], "dave", "-1")
    FeedbackCollector(client, store, bot_login=BOT).collect(sc.SLUG)
    assert labels(store) == {sc.DUP_SUMMARIZE.fingerprint: False}
    fake.state.unreact(comment["id"], "dave", "-1")
    FeedbackCollector(client, store, bot_login=BOT).collect(sc.SLUG)
    assert resolve("carol", "unresolved") == "recorded"
    assert labels(store) == {}
    assert resolve(BOT) == "own"


def test_collection_is_bounded(fake: FakeGitHubServer, client: GitHubClient) -> None:
    store = MemoryFeedbackStore(StoreLimits(max_pairs=100, max_pairs_per_pull=10))
    publish(client, store)
    state = fake.state
    comment = comment_of(state, sc.DUP_APPLY.fingerprint)
    for i in range(150):
        state.repos[sc.SLUG].permissions[f"user{i}"] = "write"
        state.react(comment["id"], f"user{i}", "-1")
    # Pull requests doppel commented on long ago, or beyond the run's count, are not polled.
    for number in (11, 12, 13):
        store.remember([PublishedPair("f" * 16, number, sc_side("a"), sc_side("b"), published_at=1.0)])
    limits = CollectLimits(pulls=5, days=30, reactions_per_comment=100, permission_checks=20)

    stats = FeedbackCollector(client, store, bot_login=BOT, limits=limits).collect(sc.SLUG)

    listed = [e for e in fake.exchanges if e.path.endswith(f"/pulls/comments/{comment['id']}/reactions")]
    assert len(listed) == 1 and listed[0].query.get("per_page") == "100"  # one page of reactions, no more
    assert stats.pulls == 1  # the three old pull requests are out of the window
    assert stats.votes == 20 and stats.ignored_unchecked == 80  # 20 permission look-ups, the rest wait
    assert len([e for e in fake.exchanges if e.path.endswith("/permission")]) == 20
    (pair,) = store.labelled()
    assert (pair.downs, pair.positive) == (20, False)


def sc_side(name: str) -> PairSide:
    return PairSide("python", "x.py", name, "c" * 40, "h", "def f():\n    return 1\n")


def test_the_fake_thread_webhook_has_githubs_shape() -> None:
    if not EXAMPLES.exists():
        pytest.skip("@octokit/webhooks-examples is not installed under tests/.npm (make npm-fixtures)")
    (entry,) = [e for e in json.loads(EXAMPLES.read_text()) if e["name"] == "pull_request_review_thread"]
    example = entry["examples"][0]
    state = FakeGitHub(web_url=WEB)
    sc.arrange(state, bot_token=TOKEN, bot_login=BOT)
    root = state.add_review_comment(
        sc.SLUG, sc.NUMBER, login=BOT, body="x", path="app/billing.py", line=3, commit_id=sc.HEAD,
        in_reply_to=None, review_id=None,
    )  # fmt: skip
    payload = state.review_thread_payload(root["id"], "resolved", "alice")
    assert set(example) - {"organization"} <= set(payload)
    assert set(example["thread"]) == set(payload["thread"])
    ours = payload["thread"]["comments"][0]
    missing = set(example["thread"]["comments"][0]) - set(ours) - {"position", "original_position"}
    assert missing == set()
    assert set(example["thread"]["comments"][0]["reactions"]) == set(ours["reactions"])
    assert set(example["pull_request"]) <= set(payload["pull_request"])


def test_a_copied_marker_on_someone_elses_comment_labels_nothing(fake: FakeGitHubServer, client: GitHubClient) -> None:
    store = MemoryFeedbackStore()
    publish(client, store)
    state = fake.state
    forged = state.add_review_comment(
        sc.SLUG, sc.NUMBER, login="mallory", body=f"not doppel <!-- doppel:fp={sc.DUP_APPLY.fingerprint} -->",
        path="app/billing.py", line=3, commit_id=sc.HEAD, in_reply_to=None, review_id=None,
    )  # fmt: skip
    state.react(forged["id"], "alice", "-1")
    stats = FeedbackCollector(client, store, bot_login=BOT).collect(sc.SLUG)
    assert labels(store) == {} and stats.reaction_reads == 0 and stats.comments == len(sc.INLINE_FINDINGS)
